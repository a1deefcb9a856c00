"""smartcron's journal message catalog (smartcron.catalog), for `smartcron units install`."""
