"""`python -m dnsvigil` runs the command line."""

from dnsvigil.cli.main import main

main()
