"""config: check-config and show-config against real files."""
