"""`GET /healthz` and `GET /api/deploys/<id>`: what the intake and a deploy look like now."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from jobs.state import RedisError
from jobs.state.ids import ID_HINT
from jobs.state.records import DEPLOY_ID, DeployStore, RecordError
from webhook.errors import RETRY_AFTER_SECONDS, BadRequest, NotFound, Unavailable
from webhook.services import services

api = Blueprint("api", __name__)


@api.get("/healthz")
def health() -> tuple[dict[str, str], int, dict[str, str]]:
    """200 when Redis answers; 503 naming what is down. Config is checked at start-up."""
    report = {"config": "ok", "redis": "ok"}
    try:
        services().redis.ping()
    except RedisError as error:
        report["redis"] = f"down ({type(error).__name__})"
    if report["redis"] == "ok":
        return report, 200, {}
    return report, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


@api.get("/api/deploys/<deploy_id>")
def show_deploy(deploy_id: str) -> dict[str, Any]:
    if not DEPLOY_ID.match(deploy_id):
        raise BadRequest(f"not a deploy id: expected {ID_HINT}")
    store = DeployStore(services().redis)
    try:
        deploy = store.get(deploy_id)
        lines = store.log(deploy_id)
    except RecordError:
        raise NotFound(f"no deploy {deploy_id}") from None
    except RedisError:
        raise Unavailable("Redis is unavailable; retry in a few seconds") from None
    return {**deploy.as_dict(), "log": lines}
