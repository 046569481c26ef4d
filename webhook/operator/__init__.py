"""The operator's verbs of `deployhook`: deploy, roll back, read history, backups, locks."""
