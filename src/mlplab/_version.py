"""The package version, alone in its module so anything can import it without side effects."""

__version__ = "0.1.0"
