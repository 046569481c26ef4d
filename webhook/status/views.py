"""The status pages: environments, deploy history, and one deploy with its live log."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue

from jobs.state.records import DEPLOY_ID, RecordError
from webhook.status.context import context, problem, stream_slots
from webhook.status.environments import environment_statuses
from webhook.status.live import STREAM_SECONDS, settled, stream_log
from webhook.status.queries import (
    STATES,
    BadQuery,
    HistoryQuery,
    find_deploys,
    parse_history_query,
    parse_int,
)

pages = Blueprint("status_pages", __name__)
STREAM_RETRY_AFTER = 10  # seconds; the page polls meanwhile


@pages.get("/")
def environments() -> ResponseReturnValue:
    ctx = context()
    return render_template(
        "environments.html", statuses=environment_statuses(ctx.settings, ctx.connection)
    )


@pages.get("/deploys")
def deploys() -> ResponseReturnValue:
    ctx = context()
    choices = [environment.target for environment in ctx.settings.every_environment()]
    try:
        query, error = parse_history_query(request.args, ctx.settings), None
    except BadQuery as bad:
        query, error = HistoryQuery(), str(bad)
    page = render_template(
        "deploys.html",
        query=query,
        deploys=[] if error else find_deploys(ctx.store, query),
        error=error,
        environments=choices,
        states=STATES,
    )
    return page, 400 if error else 200


@pages.get("/deploys/<deploy_id>")
def deploy(deploy_id: str) -> ResponseReturnValue:
    store = context().store
    try:
        record = store.get(deploy_id)
    except RecordError as error:
        return render_template("missing.html", message=str(error)), 404
    lines = store.log(deploy_id)
    return render_template(
        "deploy.html",
        deploy=record,
        settled=settled(record, time.time()),  # else the page follows it live
        lines=lines,
        problems=store.reporting_problems(deploy_id),
    )


@pages.get("/deploys/<deploy_id>/log/stream")
def log_stream(deploy_id: str) -> ResponseReturnValue:
    """Server-sent events with the log lines from `start` (or the browser's Last-Event-ID)."""
    if not DEPLOY_ID.fullmatch(deploy_id):
        return render_template("missing.html", message=f"{deploy_id!r} is not a deploy id"), 404
    resume = request.headers.get("Last-Event-ID") or request.args.get("start")
    try:
        start = parse_int(resume, "start", 0, 0, 10**9)
    except BadQuery as error:
        return render_template("missing.html", message=str(error)), 400
    try:
        context().store.get(deploy_id)  # Redis down: 503 here, before a stream is promised
    except RecordError as error:
        return render_template("missing.html", message=str(error)), 404
    slots = stream_slots()
    if not slots.take():
        busy = problem(503, "too many live logs are open; poll /api/deploys/<id>/log instead")
        busy.headers["Retry-After"] = str(STREAM_RETRY_AFTER)
        return busy
    lifetime = current_app.config.get("LIVE_STREAM_SECONDS", STREAM_SECONDS)
    response = Response(
        stream_log(context().store, deploy_id, start, lifetime=lifetime),
        mimetype="text/event-stream",
        # no-transform and X-Accel-Buffering keep proxies from holding events back.
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )
    # On close, not in the generator: a stream that never starts still gives its slot back.
    response.call_on_close(slots.give_back)
    return response
