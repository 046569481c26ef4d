"""What a deploy does to the database: whether a migration changed it (watch), what a restore
keeps (keep), and which services write to it (writers).

Import from the submodules: this package imports none of them, because `keep` copies a kept
dump off-site and `jobs.offsite.copy` runs its commands where the database is (`place`), so
an eager import here made `import jobs.offsite.copy` fail when it came first.
"""
