"""Can Redis lose its master without losing a delivery? Sentinels answer, a replica streams.

The judges are pure (table-tested): they take what each sentinel said and which replicas the
master reports, so that doctor's verdicts can be checked without running a failover.
"""

from __future__ import annotations

from config import Settings
from jobs.doctor.check import Finding, fail, ok, warn
from jobs.state import Connection
from jobs.state.replication import SentinelAnswer, ask_sentinel, online_replicas

TARGET = "deployhook"
SENTINEL = "sentinel"
REPLICAS = "replicas"
FIX_SENTINEL = "start redis-sentinel there, or correct redis.sentinel.sentinels (docs/ha.md)"


def check(settings: Settings, connection: Connection) -> list[Finding]:
    """Sentinel findings (with `redis.sentinel`) and the replica finding (when replicas count)."""
    findings = []
    sentinel = settings.redis.sentinel
    if sentinel is not None:
        answers = [ask_sentinel(sentinel, where) for where in sentinel.sentinels]
        findings += judge_sentinels(answers, sentinel.master)
    required = settings.redis.acknowledging_replicas
    if required:
        findings.append(judge_replicas(online_replicas(connection), required))
    return findings


def judge_sentinels(answers: list[SentinelAnswer], master: str) -> list[Finding]:
    """One finding a sentinel, and one more when they disagree or are too few for a failover."""
    findings = [_judge_one(answer, master) for answer in answers]
    named = {answer.master for answer in answers if answer.master}
    if len(named) > 1:
        differ = f"the sentinels name different masters for {master!r}: {', '.join(sorted(named))}"
        fix = "wait for the failover to finish; if it stays, check each sentinel's monitor line"
        findings.append(fail(TARGET, SENTINEL, differ, fix))
    answering = [answer for answer in answers if answer.master]
    quorum = max((answer.quorum for answer in answering), default=0)
    if answering and len(answers) < 3:
        few = (
            f"{len(answers)} sentinel(s) configured: losing the machine of one can leave too few "
            f"to agree on a failover (quorum {quorum})"
        )
        fix = "run three sentinels on three machines, quorum 2, and list all three"
        findings.append(warn(TARGET, SENTINEL, few, fix))
    return findings


def _judge_one(answer: SentinelAnswer, master: str) -> Finding:
    if answer.problem is not None:
        return fail(
            TARGET, SENTINEL, f"{answer.where}: does not answer ({answer.problem})", FIX_SENTINEL
        )
    if answer.master is None:
        return fail(
            TARGET, SENTINEL,
            f"{answer.where}: monitors no master named {master!r}",
            f"add `sentinel monitor {master} <master-ip> 6379 2` to its sentinel.conf, or set "
            "redis.sentinel.master to the name it monitors",
        )  # fmt: skip
    if set(answer.flags.split(",")) & {"s_down", "o_down"}:
        return fail(
            TARGET, SENTINEL,
            f"{answer.where}: sees the master {answer.master} unreachable ({answer.flags})",
            "start the master again, or wait for the failover",
        )  # fmt: skip
    return ok(
        TARGET, SENTINEL,
        f"{answer.where}: master {master!r} at {answer.master}, quorum {answer.quorum}, "
        f"{answer.other_sentinels} other sentinel(s) seen",
    )  # fmt: skip


def judge_replicas(online: list[str], required: int) -> Finding:
    """Enough replicas stream from the master for the intake's WAIT, with one to spare."""
    if len(online) < required:
        return fail(
            TARGET, REPLICAS,
            f"{len(online)} replica(s) connected, {required} must acknowledge each delivery: "
            "the intake answers every push 503",
            "start the replica(s) (replicaof <master> 6379) and check masterauth, or lower "
            "redis.replicas",
        )  # fmt: skip
    listed = ", ".join(online)
    if len(online) == required:
        return warn(
            TARGET, REPLICAS,
            f"{len(online)} replica(s) connected ({listed}), exactly the {required} that must "
            "acknowledge: once a failover promotes one, pushes get 503 until another replica "
            "joins",
            "run one replica more than redis.replicas (a master and two replicas for the default)",
        )  # fmt: skip
    return ok(TARGET, REPLICAS, f"{len(online)} replica(s) connected: {listed}")
