"""The JSON API: the same data as the status pages, for scripts and dashboards."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, jsonify, request, send_file
from flask.typing import ResponseReturnValue

from jobs.state.records import RecordError
from webhook.status.context import context, problem
from webhook.status.environments import environment_statuses
from webhook.status.live import live_summary
from webhook.status.queries import BadQuery, find_deploys, parse_history_query, parse_int

api = Blueprint("status_api", __name__, url_prefix="/api")
OPENAPI = Path(__file__).resolve().parent.parent / "static" / "openapi.json"


@api.get("/environments")
def environments() -> ResponseReturnValue:
    ctx = context()
    statuses = environment_statuses(ctx.settings, ctx.connection)
    return jsonify(environments=[status.as_dict() for status in statuses])


@api.get("/deploys")
def deploys() -> ResponseReturnValue:
    ctx = context()
    try:
        query = parse_history_query(request.args, ctx.settings)
    except BadQuery as error:
        return problem(400, str(error))
    found = find_deploys(ctx.store, query)
    return jsonify(
        query={"environment": query.environment, "state": query.state, "limit": query.limit},
        deploys=[deploy.as_dict() for deploy in found],
    )


@api.get("/deploys/<deploy_id>/log")
def log(deploy_id: str) -> ResponseReturnValue:
    """Log lines from index `start` on; `next` is the `start` to ask for the lines after them."""
    store = context().store
    try:
        start = parse_int(request.args.get("start"), "start", 0, 0, 10**9)
        deploy = store.get(deploy_id)
    except BadQuery as error:
        return problem(400, str(error))
    except RecordError as error:
        return problem(404, str(error))
    lines = store.log(deploy_id, start)
    return jsonify(
        deploy_id=deploy_id,
        start=start,
        next=start + len(lines),
        lines=lines,
        deploy=live_summary(deploy),
    )


@api.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return send_file(OPENAPI, mimetype="application/json", max_age=300)
