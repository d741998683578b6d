"""Tests of scamtrace.language."""
