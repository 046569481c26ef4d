"""Helpers that start and drive real services for the tests."""
