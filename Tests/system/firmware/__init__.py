"""firmware: the static firmware binaries and the container image."""
