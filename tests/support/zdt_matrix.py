"""The zero-downtime matrix's cells: one deploy of a row, measured through every proxy at once.

The rows are releases (tests/runbook/test_zero_downtime_matrix_e2e.py), the columns proxies
(`PROXIES`: Caddy resolving per request, Caddy with a `dynamic a` upstream, nginx with a
resolver and a variable upstream), all three in front of the same api on one bed. Each row
deploys once while the users of every proxy run: one opens a new connection per request, one
keeps its connection alive. A cell is one proxy's users during one row's deploy: every answer
names the version that served it, and every cell must show 0 failed requests and the right
versions. A failing row names every cell that failed.
"""

from __future__ import annotations

from collections.abc import Callable

import redis

from config import Settings
from jobs.state.records import Deploy, DeployStore
from tests.support.deploying import deploy
from tests.support.failures import assert_cause
from tests.support.zdt_bed import PROXIES, Clients, ProxyBed, Users

Check = Callable[[Clients], "str | None"]


def deploy_row(
    bed: ProxyBed, settings: Settings, connection: redis.Redis, sha: str, slow: bool = False
) -> tuple[Deploy, Users]:
    """Deploy `sha` while the users of every proxy run."""
    with Users(bed.ports, slow=slow) as users:
        record = deploy(settings, connection, sha)
    log = DeployStore(connection).log(record.id)
    swap = [i for i, line in enumerate(log) if line[9:] in ("== swap", "== revert")]
    users.swap_log = log[swap[0] :] if swap else log
    # Whether or not a request was on it then: a reconnect that moved a running container cut
    # whatever was (jobs/runbook/stages/address_holds.py).
    moved = [line for line in log if "the connections it had there were cut" in line]
    assert not moved, "\n".join([*moved, "the swap's log:", *users.swap_log])
    return record, users


def each_cell(users: Users, *checks: Check) -> None:
    """Every check on every proxy's users; the failure names each cell that failed, and why."""
    problems = [
        f"{proxy}: {problem}"
        for proxy, clients in users.by_proxy.items()
        for check in checks
        if (problem := check(clients)) is not None
    ]
    # A failed cell comes with the swap's log: its commands, and whether an old container's
    # address changed at its leave (which cuts the connections on it).
    assert not problems, "\n".join([*problems, "the swap's log:", *users.swap_log])


def no_failed(clients: Clients) -> str | None:
    """0 failed requests, and both clients (new connections, kept connection) answered."""
    failed = clients.failed()
    if failed:
        return f"{len(failed)} of {len(clients.answers)} failed: {[vars(a) for a in failed[:5]]}"
    if not (clients.versions("fresh") and clients.versions("kept")):
        return f"a client had no answer: {clients.versions()}"
    return None


def served(*versions: str) -> Check:
    """Exactly these versions answered."""
    return lambda clients: (
        None if set(clients.versions()) == set(versions) else f"served {clients.versions()}"
    )


def answered_last(version: str) -> Check:
    """The last answer, after the deploy ended, came from `version`."""

    def check(clients: Clients) -> str | None:
        answered = [answer.version for answer in clients.answers if answer.version]
        return None if answered and answered[-1] == version else f"last {answered[-1:]}"

    return check


def spanned(before: str, version: str) -> Check:
    """A 5 s request on `before` was in flight when `version` first answered, and completed."""

    def check(clients: Clients) -> str | None:
        answers = clients.answers
        first_new = min((a.ended for a in answers if a.version == version), default=None)
        if first_new is None:
            return f"{version} never answered"
        spanning = [
            a for a in answers
            if a.client == "slow" and a.version == before and a.started < first_new < a.ended
        ]  # fmt: skip
        return None if spanning else f"no 5 s request on {before} spanned the swap"

    return check


def serves(bed: ProxyBed, version: str | None) -> None:
    """`version` answers through every proxy now."""
    assert bed.versions() == dict.fromkeys(PROXIES, version), bed.versions()


def swapped(
    bed: ProxyBed, settings: Settings, connection: redis.Redis, version: str, behaviour: str
) -> Deploy:
    """Deploy a release that must succeed; both versions served, the new one last."""
    before = bed.version()
    record, users = deploy_row(bed, settings, connection, bed.release(version, behaviour))
    assert record.state == "succeeded", record.error
    each_cell(users, no_failed, served(str(before), version), answered_last(version))
    serves(bed, version)
    return record


# What the swap's failure names for each release that never serves (the Docker health seen at
# the failure, or the timeout while it still starts on a loaded machine). A crash is seen
# restarting, exited, or running again after its restart, as the look falls.
CAUSES = {
    "unhealthy": ("api: new container failed (running, health unhealthy", "not healthy within"),
    "crash": "api: new container failed (",
}


def never_seen(bed: ProxyBed, settings: Settings, connection: redis.Redis, behaviour: str) -> None:
    """Deploy a release that never gets healthy: it serves nothing, the old never stops."""
    before, serving = bed.version(), bed.api_containers()
    version = f"{behaviour}-release"
    record, users = deploy_row(bed, settings, connection, bed.release(version, behaviour))
    assert record.state == "reverted" and record.failed_stage == "swap", record.error
    line = assert_cause(record, CAUSES[behaviour])
    assert "…" not in line and line.endswith("removed unserved, old one(s) kept serving"), line
    if behaviour == "crash":  # failed at its crash, not as unhealthy or at the timeout
        assert "(restarting" in line or "(exited" in line or " 0 restart(s)" not in line, line
    each_cell(users, no_failed, served(str(before)))
    assert bed.api_containers() == serving, "the old container stopped"
    serves(bed, before)
