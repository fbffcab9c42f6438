"""dispatch: the multi-call binary (symlink names, arguments, help, install)."""
