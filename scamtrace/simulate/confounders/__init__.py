"""Honest look-alikes: people and businesses whose records resemble fraud but are not."""
