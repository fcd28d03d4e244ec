"""Readers of the published dataset layouts."""
