"""Every Redis key deployhook writes, named in one place (RQ's own keys are RQ's business).

deployhook:deploy:<id>                     the deploy record (JSON), written whole
deployhook:deploy:<id>:log                 its log lines
deployhook:deploy:<id>:events              record snapshots at each change, for the reporters
deployhook:deploy:<id>:commands            what the runner ran (argv, exit, start, duration)
deployhook:deploy:<id>:reporting-problems  reporters' delivery failures
deployhook:deploy:<id>:reported            per-reporter cursor into the events
deployhook:deploy:<id>:reporting-lock      one reporter loop per deploy at a time
deployhook:deploy:<id>:github-deployment   the GitHub deployment id made for it
deployhook:reports:pending                 deploy ids with unreported events
deployhook:history[:<target>]              deploy ids by creation time, all and per environment
deployhook:delivery:<delivery id>          first deploy id a webhook delivery queued (dedup)
deployhook:env:<target>:latest             newest queued deploy id (newest push wins)
deployhook:env:<target>:held               deploy ids an operator's lock holds
deployhook:lock:<target>                   the environment's lock (deploy or operator)
deployhook:last-good:<target>              the environment's last healthy deploy
deployhook:metrics:deliveries              webhook deliveries counted by provider and result
deployhook:refused-jobs                    jobs the worker refused to run (JSON notes, newest first)
deployhook:worker:<name>                   a live worker's heartbeat (expires when it stops beating)
deployhook:gates:window-wake               target -> when its next deploy window opens (gates)
deployhook:commit:<target>:<sha>           deploy id a webhook or poll queued for the commit (dedup)
deployhook:poll:<target>                   the last poll (JSON: last, next, result, refs seen)
deployhook:replication:mark                a counter the intake bumps before it WAITs for replicas
deployhook:audit                           audit log: logins, failed logins, operator actions
deployhook:session:<sha256 of id>          a signed-in browser session (JSON, expires)
deployhook:metrics:cache                   the last /metrics answer, reused for a few seconds
"""

from __future__ import annotations

PREFIX = "deployhook"
# Deploy ids with unreported events, for whichever reporter loop takes them next.
REPORTS_PENDING = f"{PREFIX}:reports:pending"
DELIVERY_COUNTS = f"{PREFIX}:metrics:deliveries"
REFUSED_JOBS = f"{PREFIX}:refused-jobs"
# Sorted set: environment target -> Unix time its next deploy window opens, for the waker.
WINDOW_WAKE = f"{PREFIX}:gates:window-wake"
# Written just before WAIT, so that the waiting connection has a write for replicas to confirm.
REPLICATION_MARK = f"{PREFIX}:replication:mark"
# Stream of audit entries (who, what, when, from where), trimmed by age and count.
AUDIT = f"{PREFIX}:audit"
METRICS_CACHE = f"{PREFIX}:metrics:cache"


def session(digest: str) -> str:
    """A browser session, by the SHA-256 of its id: Redis never holds the id itself."""
    return f"{PREFIX}:session:{digest}"


def deploy(deploy_id: str) -> str:
    return f"{PREFIX}:deploy:{deploy_id}"


def log(deploy_id: str) -> str:
    return f"{PREFIX}:deploy:{deploy_id}:log"


def events(deploy_id: str) -> str:
    return f"{PREFIX}:deploy:{deploy_id}:events"


def commands(deploy_id: str) -> str:
    return f"{PREFIX}:deploy:{deploy_id}:commands"


def reporting_problems(deploy_id: str) -> str:
    return f"{PREFIX}:deploy:{deploy_id}:reporting-problems"


def report_cursor(deploy_id: str) -> str:
    return f"{PREFIX}:deploy:{deploy_id}:reported"


def reporting_lock(deploy_id: str) -> str:
    return f"{PREFIX}:deploy:{deploy_id}:reporting-lock"


def github_deployment(deploy_id: str) -> str:
    return f"{PREFIX}:deploy:{deploy_id}:github-deployment"


def deploy_keys(deploy_id: str) -> list[str]:
    """Every key one deploy owns (removed together when history retention drops it)."""
    return [
        deploy(deploy_id), log(deploy_id), events(deploy_id), commands(deploy_id),
        reporting_problems(deploy_id), report_cursor(deploy_id), reporting_lock(deploy_id),
        github_deployment(deploy_id),
    ]  # fmt: skip


def history(target: str | None = None) -> str:
    return f"{PREFIX}:history:{target}" if target else f"{PREFIX}:history"


def delivery(delivery_id: str) -> str:
    return f"{PREFIX}:delivery:{delivery_id}"


def latest_queued(target: str) -> str:
    return f"{PREFIX}:env:{target}:latest"


def held(target: str) -> str:
    return f"{PREFIX}:env:{target}:held"


def lock(target: str) -> str:
    return f"{PREFIX}:lock:{target}"


def last_good(target: str) -> str:
    return f"{PREFIX}:last-good:{target}"


# Long enough to cover a webhook arriving after a poll (or the reverse) and its retries;
# short enough that a branch moved back to this commit days later can deploy it again.
COMMIT_MARKER_TTL_SECONDS = 24 * 3600


def commit_marker(target: str, sha: str) -> str:
    """Triggers: a webhook and a poll for one commit of one environment queue one deploy."""
    return f"{PREFIX}:commit:{target}:{sha}"


def worker(name: str) -> str:
    """A live worker's heartbeat (jobs/state/workers.py): expires when the worker stops beating."""
    return f"{PREFIX}:worker:{name}"


def poll_state(target: str) -> str:
    """Triggers: what the last poll of an environment saw, and when the next one is due."""
    return f"{PREFIX}:poll:{target}"


def backup_drill(target: str) -> str:
    """Off-site: the last restore drill of an environment's backups (jobs/offsite/drill.py)."""
    return f"{PREFIX}:drill:{target}"


def offsite_schedule(kind: str, target: str) -> str:
    """Off-site: the slot of a scheduled drill or retention run, held for one period."""
    return f"{PREFIX}:offsite-schedule:{kind}:{target}"
