"""dnsvigil: an observatory for the security, stability and resiliency of the DNS."""

__version__ = "0.1.0"
