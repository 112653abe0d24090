"""vhctl: the command line that installs, configures and checks vhctl's Verlihub hub scripts."""

__version__ = "0.1.0"
