"""evshare: serve, load and consume the EnergSync API."""

__version__ = "0.1.0"
