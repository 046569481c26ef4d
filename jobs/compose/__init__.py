"""What deployhook knows about Compose: the effective model, zero-downtime rules, images."""
