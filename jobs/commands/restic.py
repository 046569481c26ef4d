"""argv for restic, the off-site copies of backups (docs/backups.md).

Every copy is one file read on stdin (`--stdin --stdin-filename NAME`), so a snapshot holds
exactly `/<NAME>` whatever directory the backup sat in, and `dump` hands it back on stdout to
any host. Snapshots are found by tags, never by path:
  deployhook          every snapshot deployhook made
  env:<project>/<env> whose data it is
  deploy:<id>         the deploy (or operator action) that took it
  kind:backup|kept    a deploy's backup, or a database kept before a restore
  schema:<hash>       the dump's schema fingerprint, which a restore drill compares
The password reaches restic as RESTIC_PASSWORD in its environment (repository_env), never argv.
"""

from __future__ import annotations

from config.offsite import Offsite

HOST = "deployhook"  # every snapshot's host: forget groups by it, whichever worker copied


def base(offsite: Offsite) -> list[str]:
    """restic on the environment's repository, with its extended options."""
    argv = ["restic", "--repo", offsite.repository]
    for name, value in sorted(offsite.options.items()):
        argv += ["--option", f"{name}={value}"]
    return argv


def repository_env(offsite: Offsite) -> dict[str, str]:
    """The variables restic reads: the password and the backend's credentials."""
    environ = {name: secret.reveal() for name, secret in offsite.env.items()}
    environ["RESTIC_PASSWORD"] = offsite.password.reveal()
    return environ


def cat_config(offsite: Offsite) -> list[str]:
    """Reads the repository's config: exit 0 when a repository is there and the password opens
    it (a first copy initialises it otherwise)."""
    return [*base(offsite), "cat", "config"]


def init(offsite: Offsite) -> list[str]:
    return [*base(offsite), "init"]


def tags(target: str, deploy_id: str, kind: str, schema: str | None) -> list[str]:
    """The tags of one copy (see the module's doc); restic splits a tag on commas: none here."""
    found = ["deployhook", f"env:{target}", f"deploy:{deploy_id}", f"kind:{kind}"]
    return found + ([f"schema:{schema}"] if schema else [])


def backup(offsite: Offsite, name: str, with_tags: list[str]) -> list[str]:
    """Copy the file on stdin as `/<name>`; `--json` ends with a summary naming the snapshot."""
    argv = [*base(offsite), "backup", "--json", "--quiet", "--host", HOST]
    for tag in with_tags:
        argv += ["--tag", tag]
    return [*argv, "--stdin", "--stdin-filename", name]


def snapshots(offsite: Offsite, target: str) -> list[str]:
    """The environment's snapshots as JSON, oldest first."""
    return [*base(offsite), "snapshots", "--json", "--tag", f"env:{target}"]


def dump(offsite: Offsite, snapshot: str, name: str) -> list[str]:
    """The file `/<name>` of `snapshot` on stdout."""
    return [*base(offsite), "dump", snapshot, f"/{name}"]


def forget(offsite: Offsite, target: str, keep_last: int, keep_days: int) -> list[str]:
    """Retention as the local backups have it, then prune what no snapshot needs any more.

    restic keeps a snapshot that any rule keeps: the newest `keep_last`, and every one from the
    last `keep_days` days, so the off-site copies always hold at least what the host holds.
    One group per environment (the tag filters, the host is always HOST): grouped by path,
    as restic would by default, every file would be a group of one and nothing would go.
    """
    argv = [*base(offsite), "forget", "--tag", f"env:{target}", "--group-by", "host"]
    argv += ["--keep-last", str(keep_last), "--keep-within", f"{keep_days}d", "--prune"]
    return argv


def check(offsite: Offsite) -> list[str]:
    """The repository's structure (doctor); the drill reads the data itself by restoring it."""
    return [*base(offsite), "check"]
