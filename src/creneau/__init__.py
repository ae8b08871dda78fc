"""creneau: calendar synchronisation and appointment scheduling for user-research teams."""

__version__ = "0.1.0"
