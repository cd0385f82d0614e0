"""cidx: local code search with a per-repository daemon."""

__version__ = "0.4.2"
