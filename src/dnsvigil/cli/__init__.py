"""The `dnsvigil` command: one module per command group."""
