"""`python -m vhctl` runs the CLI."""

from vhctl.cli import main

main()
