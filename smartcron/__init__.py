"""smartcron: scheduled jobs you can trust, built on systemd timers."""

__version__ = "0.1.0"
