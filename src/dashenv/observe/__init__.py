"""Read-only observation of the world outside the settings: what Compose makes of an
environment's files (``compose``), and how this checkout's instance runs it, from the
machine-wide registry (``instance``). Nothing here changes anything but dashenv's own cache."""
