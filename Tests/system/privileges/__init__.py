"""privileges: dropping to the configured user and capabilities."""
