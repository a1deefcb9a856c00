"""smartcron: scheduled jobs you can trust, built on systemd timers."""

# The one place of the version: pyproject.toml reads it (dynamic), and so does the CLI.
__version__ = "0.1.0"
