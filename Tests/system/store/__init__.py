"""store: the SQLite store under kill -9, schema and file checks."""
