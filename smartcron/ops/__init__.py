"""Operations shared by the CLI and the dashboard: task controls (run now, pause, resume),
imports, health checks, doctor, backups, retention and dashboard users."""
