"""What smartcron knows, as pure data and functions: settings, tasks and their validation,
schedules (cron, @keywords, OnCalendar), run outcomes and their meanings, task and crontab files.

Nothing here touches the database, systemd or the network; every other stage builds on it.
"""
