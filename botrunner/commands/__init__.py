"""Sub-commands of the botrunner CLI."""
