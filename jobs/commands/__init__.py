"""Builders of argv lists. Nothing here runs anything: jobs.execution.runner does."""
