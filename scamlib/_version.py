"""The version of scamlib, in one place (the top-level package re-exports it)."""

__version__ = "0.1.0.dev0"
