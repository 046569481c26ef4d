"""SOPS files of the deployed repository, decrypted with age at deploy time (docs/backups.md)."""
