"""The engine: accounts, calendars, sync, free/busy and event writes, through one provider interface."""
