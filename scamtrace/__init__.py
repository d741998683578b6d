"""scamtrace: find, trace and stop the call-center networks behind telephone fraud."""

__version__ = "0.1.0"
