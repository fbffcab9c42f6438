"""init: the supervisor (start, restart, reload, stop, PID 1)."""
