"""The watchdog stage: systemd's D-Bus signals in, one row per run out (events, listener,
writer), journal reconciliation, the long-running service and the OnFailure= fallback."""
