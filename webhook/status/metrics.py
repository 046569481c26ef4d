"""Prometheus metrics, computed from Redis at scrape time and kept there for a few seconds.

Nothing is counted in process memory: every number comes from Redis when Prometheus asks, so
any gunicorn worker on any host answers with the same values. The computed text is kept in
Redis for CACHE_SECONDS, so that a scrape costs a single GET however often it comes.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from statistics import fmean
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from flask import Response, current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from rq import Queue

from config import Settings
from jobs.state import Connection, RedisError
from jobs.state.counters import delivery_counts
from jobs.state.environment import EnvironmentState, read_environments
from jobs.state.metrics_cache import cached_metrics, keep_metrics
from jobs.state.records import Deploy, DeployStore
from webhook.status.formatting import parse_time, seconds_between
from webhook.status.queries import STATES

# Scrapes within this many seconds of a computed answer get the same text (jobs/state/).
CACHE_SECONDS = 10.0
STATE_WINDOW = 1000  # newest deploys per environment counted by state
STAGE_WINDOW = 20  # newest deploys per environment whose stage timings are averaged
TARGET = ["project", "environment"]
# What generate_latest writes; every Prometheus version reads this classic text format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(name: str, documentation: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=[*TARGET, *labels])


class DeployhookCollector(Collector):
    """Reads deploy history, queues, locks and delivery counters on every scrape."""

    def __init__(self, settings: Settings, connection: Connection) -> None:
        self.settings = settings
        self.connection = connection

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to describe ahead: registering must not touch Redis

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("deployhook_redis_up", "1 if Redis answered this scrape, else 0")
        try:
            families = self._families()
        except RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> list[Metric]:
        deploys = _gauge(
            "deployhook_deploys",
            f"Deploys among the newest {STATE_WINDOW} of each environment, by state",
            "state",
        )
        last_stage = _gauge(
            "deployhook_stage_last_duration_seconds",
            "Duration of the most recent finished run of each stage",
            "stage",
        )
        mean_stage = _gauge(
            "deployhook_stage_mean_duration_seconds",
            f"Mean duration of each stage over the newest {STAGE_WINDOW} deploys",
            "stage",
        )
        success = _gauge(
            "deployhook_last_success_timestamp_seconds",
            "Unix time when the environment last finished a deploy successfully",
        )
        warned = _gauge(
            "deployhook_deploys_with_warnings",
            f"Deploys among the newest {STATE_WINDOW} of each environment that carry warnings "
            "(e.g. an old container not removed after a zero-downtime swap)",
        )
        locked = _gauge("deployhook_environment_locked", "1 if the environment is locked, else 0")
        held = _gauge(
            "deployhook_held_deploys",
            "Queued deploys held by an operator lock or outside a deploy window",
        )
        store = DeployStore(self.connection)
        configured = self.settings.every_environment()
        states = read_environments(self.connection, [config.target for config in configured])
        for config in configured:
            target = config.target
            found = states[target]
            labels = [config.project_name, config.name]
            history = store.history(target, limit=STATE_WINDOW)
            counts: Counter[str] = Counter(deploy.state for deploy in history)
            for state in STATES:
                deploys.add_metric([*labels, state], counts[state])
            warned.add_metric(labels, sum(1 for deploy in history if deploy.warnings))
            for stage, durations in _stage_durations(history[:STAGE_WINDOW]).items():
                last_stage.add_metric([*labels, stage], durations[0])
                mean_stage.add_metric([*labels, stage], fmean(durations))
            when = _last_success(history, found)
            if when is not None:
                success.add_metric(labels, when)
            locked.add_metric(labels, 0 if found.lock.state == "free" else 1)
            held.add_metric(labels, len(found.held))
        return [
            deploys, warned, last_stage, mean_stage, success, locked, held,
            self._queues(), self._deliveries(), *self._drills(states),
        ]  # fmt: skip

    def _drills(self, states: dict[str, EnvironmentState]) -> list[GaugeMetricFamily]:
        """The last restore drill of each environment with an off-site repository."""
        passed = _gauge(
            "deployhook_backup_drill_ok", "1 if the last restore drill passed, 0 if it failed"
        )
        when = _gauge(
            "deployhook_backup_drill_timestamp_seconds", "Unix time of the last restore drill"
        )
        tables = _gauge(
            "deployhook_backup_drill_tables", "Tables the last passing restore drill counted"
        )
        for config in self.settings.every_environment():
            if config.backups.offsite is None:
                continue
            drill = states[config.target].drill
            moment = parse_time(drill.at) if drill else None
            if drill is None or moment is None:
                continue
            labels = [config.project_name, config.name]
            passed.add_metric(labels, 1 if drill.ok else 0)
            when.add_metric(labels, moment.timestamp())
            tables.add_metric(labels, len(drill.tables))
        return [passed, when, tables]

    def _queues(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "deployhook_queue_length", "Deploy jobs waiting in each queue", labels=["queue"]
        )
        for name in self.settings.queues():
            family.add_metric([name], len(Queue(name, connection=self.connection)))
        return family

    def _deliveries(self) -> CounterMetricFamily:
        family = CounterMetricFamily(
            "deployhook_webhook_deliveries",
            "Webhook deliveries received, by provider and what the intake did with them",
            labels=["provider", "result"],
        )
        for field, count in sorted(delivery_counts(self.connection).items()):
            provider, _, result = field.partition(":")
            if provider and result:
                family.add_metric([provider, result], count)
        return family


def _last_success(history: list[Deploy], state: EnvironmentState) -> float | None:
    for deploy in history:
        moment = parse_time(deploy.finished_at) if deploy.state == "succeeded" else None
        if moment is not None:
            return moment.timestamp()
    # Older than the window: the pipeline's last-good record still knows when.
    moment = parse_time(state.last_good.at) if state.last_good else None
    return moment.timestamp() if moment else None


def _stage_durations(history: list[Deploy]) -> dict[str, list[float]]:
    """Finished durations per stage name, newest first."""
    found: dict[str, list[float]] = {}
    for deploy in history:
        for stage in deploy.stages:
            seconds = seconds_between(stage.started_at, stage.finished_at)
            if seconds is not None:
                found.setdefault(stage.name, []).append(seconds)
    return found


def metrics_view(settings: Settings, connection: Connection) -> Callable[[], Response]:
    """A view answering /metrics from a registry of its own (no process-global state)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeployhookCollector(settings, connection))

    def metrics() -> Response:
        return Response(
            scrape(
                registry, connection, current_app.config.get("METRICS_CACHE_SECONDS", CACHE_SECONDS)
            ),
            content_type=CONTENT_TYPE,
        )

    return metrics


def scrape(registry: CollectorRegistry, connection: Connection, cache_seconds: float) -> bytes:
    """The metrics text: the one kept in Redis while it is fresh, else computed and kept."""
    try:
        kept = cached_metrics(connection) if cache_seconds > 0 else None
    except RedisError:
        kept = None  # computed below, where Redis being down becomes deployhook_redis_up 0
    if kept is not None:
        return kept
    text = generate_latest(registry)
    if cache_seconds > 0 and b"deployhook_redis_up 1.0" in text:
        with contextlib.suppress(RedisError):
            keep_metrics(connection, text, cache_seconds)
    return text


def metrics_listener(settings: Settings, connection: Connection) -> WSGIServer | None:
    """auth.metrics.bind: a second listener serving only /metrics, without identity, for a
    Prometheus on the same host or a private network (not yet serving: call serve_forever).
    None when not configured."""
    bind = settings.auth.metrics.bind
    if bind is None:
        return None
    host, _, port = bind.rpartition(":")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeployhookCollector(settings, connection))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") != "GET":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"only GET /metrics is served here\n"]
        text = scrape(registry, connection, CACHE_SECONDS)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
        return [text]

    return make_server(host.strip("[]"), int(port), app, handler_class=_QuietHandler)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not news: no access log line for each."""
