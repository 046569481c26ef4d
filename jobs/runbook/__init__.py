"""The deploy as a runbook: the pipeline, its stages, and the compensation when one fails."""
