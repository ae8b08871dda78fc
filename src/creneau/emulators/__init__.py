"""Local stand-ins for the calendar APIs that have no local server (tests and demo)."""
