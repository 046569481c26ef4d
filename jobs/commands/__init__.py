"""Builders of argv lists. Nothing here runs anything: jobs.runner does."""
