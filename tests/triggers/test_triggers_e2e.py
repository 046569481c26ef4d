"""Triggers on the real engine: path filters, polling beside webhooks, pulled images pinned by
digest (with a real registry and a tag moved after the deploy), and Compose profiles.

Each test builds a one-service busybox stack (seconds, no database) in a real bare origin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from config import Settings
from jobs.operations.queueing import queue_rollback, rollback_plan
from jobs.state.keys import poll_state as poll_state_key
from jobs.state.polls import PollState
from jobs.state.records import DeployStore
from jobs.triggers.poll import Poller
from tests.support.commands import run
from tests.support.deliveries import encode, github_headers, payload
from tests.support.deploying import SECRET, config_for, deploy, work
from tests.support.docker_engine import Engine
from tests.support.failures import assert_cause
from tests.support.triggers_bed import Bed, publish, running_registry, service
from tests.support.web import free_port
from webhook.app import create_app

pytestmark = pytest.mark.docker


@pytest.fixture
def bed(
    docker_engine: Engine, compose_command: list[str], busybox_image: str, tmp_path: Path
) -> Iterator[Bed]:
    made = Bed(docker_engine, compose_command, busybox_image, tmp_path)
    yield made
    made.stop()


def settings_for(bed: Bed, tmp_path: Path, redis_url: str, **options: Any) -> Settings:
    return Settings.model_validate(
        config_for(bed.environment(**options), tmp_path / "state", redis_url)
    )


def github_push(settings: Settings, sha: str, before: str = "0" * 40) -> Any:
    """A signed GitHub push of `sha` to main, posted to the real intake app."""
    data = payload("github-push.json")
    data.update(before=before, after=sha, head_commit={**data["head_commit"], "id": sha})
    data["repository"].update(full_name="acme/sample", html_url="https://example.com/acme/sample")
    body = encode(data)
    client = create_app(settings).test_client()
    return client.post("/hooks/sample", data=body, headers=github_headers(body, secret=SECRET))


def argvs(connection: redis.Redis, deploy_id: str) -> list[list[str]]:
    return [command["argv"] for command in DeployStore(connection).commands(deploy_id)]


def stages(record: Any) -> dict[str, str]:
    return {stage.name: stage.outcome for stage in record.stages}


def test_path_filter_skips_unwatched_pushes_and_deploys_watched_ones(
    bed: Bed, tmp_path: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    """A push touching only unwatched files ends skipped before backup; a watched one deploys."""
    bed.create("services:\n  web:\n" + service(bed.port))
    bed.start()
    settings = settings_for(bed, tmp_path, redis_url, paths=["web/**", "migrations/**"])
    first = deploy(settings, redis_conn, bed.commit({"web/www/version.txt": "2\n"}, "web v2"))
    assert first.state == "succeeded", first.error
    assert bed.version() == "2"
    containers = bed.container_ids()
    docs = deploy(settings, redis_conn, bed.commit({"docs/guide.md": "hello\n"}, "docs only"))
    assert docs.state == "skipped", docs.error
    assert "no watched path changed" in (docs.error or "")
    assert stages(docs) == {"snapshot": "ok", "fetch": "ok", "paths": "skipped"}
    assert bed.container_ids() == containers and bed.version() == "2"
    history = DeployStore(redis_conn).history("sample/dev")
    assert (history[0].id, history[0].state) == (docs.id, "skipped")
    moved = bed.commit({"docs/x.md": "x\n", "web/www/version.txt": "3\n"}, "docs and web")
    watched = deploy(settings, redis_conn, moved)
    assert watched.state == "succeeded", watched.error
    assert bed.version() == "3"
    assert "web/www/version.txt" in "\n".join(DeployStore(redis_conn).log(watched.id))
    assert ["build", "web"] in [argv[-2:] for argv in argvs(redis_conn, watched.id)]
    # Watched, but in no build context: deployed without building anything.
    containers = bed.container_ids()
    schema = deploy(settings, redis_conn, bed.commit({"migrations/1.sql": "--\n"}, "schema"))
    assert schema.state == "succeeded", schema.error
    assert not any("build" in argv for argv in argvs(redis_conn, schema.id))
    assert bed.container_ids() == containers and bed.version() == "3"


def test_poll_deploys_a_new_commit_once_even_with_a_webhook(
    bed: Bed, tmp_path: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    """A poll sees a new commit on the bare origin and deploys it; the webhook for it is a dupe."""
    bed.create("services:\n  web:\n" + service(bed.port))
    bed.start()
    settings = settings_for(bed, tmp_path, redis_url, poll={"interval": 30})
    clock = [1000.0]
    poller = Poller(settings, redis_conn, settings.queues(), clock=lambda: clock[0])
    poller.tick()  # nothing live yet: the branch head is new
    state = PollState.from_json(redis_conn.get(poll_state_key("sample/dev")), 30)
    assert state.result.startswith("queued "), state.result
    work(settings, redis_conn)
    sha = bed.commit({"web/www/version.txt": "2\n"}, "v2")
    poller.tick()  # not due yet: the next poll is 30 s away
    assert len(DeployStore(redis_conn).history("sample/dev")) == 1
    clock[0] += 31
    poller.tick()
    state = PollState.from_json(redis_conn.get(poll_state_key("sample/dev")), 30)
    assert state.result.startswith("queued ") and sha[:12] in state.result, state.result
    assert state.next_at is not None and state.seen == {"main": sha}
    answer = github_push(settings, sha)  # the webhook for the same commit, through the intake
    # The intake sees the queued commit ("already queued as"); in a race, submit's commit
    # marker answers duplicate_of. Either way it names the poll's deploy.
    assert answer.status_code == 200, answer.json
    named = answer.json.get("duplicate_of") or answer.json["ignored"].split()[-1]
    work(settings, redis_conn)
    history = DeployStore(redis_conn).history("sample/dev")
    assert [(d.trigger, d.sha, d.state) for d in history if d.sha == sha] == [
        ("poll", sha, "succeeded")
    ]
    assert named == history[0].id
    assert bed.version() == "2"
    clock[0] += 31
    poller.tick()
    state = PollState.from_json(redis_conn.get(poll_state_key("sample/dev")), 30)
    assert state.result == "nothing new"


def test_webhook_first_then_poll_deploys_once(
    bed: Bed, tmp_path: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    """A webhook queues the commit first; the poll that sees it after queues nothing."""
    sha0 = bed.create("services:\n  web:\n" + service(bed.port))
    bed.start()
    settings = settings_for(bed, tmp_path, redis_url, poll={"interval": 30})
    first = deploy(settings, redis_conn, sha0)  # so something is live
    assert first.state == "succeeded", first.error
    sha = bed.commit({"web/www/version.txt": "2\n"}, "v2")
    hooked = github_push(settings, sha, before=sha0)
    assert hooked.status_code == 202, hooked.json
    Poller(settings, redis_conn, settings.queues()).tick()
    state = PollState.from_json(redis_conn.get(poll_state_key("sample/dev")), 30)
    assert "already queued" in state.result, state.result
    work(settings, redis_conn)
    shas = [d.sha for d in DeployStore(redis_conn).history("sample/dev")]
    assert shas.count(sha) == 1
    assert bed.version() == "2"


def test_pulled_images_are_pinned_by_digest_for_revert_and_rollback(
    bed: Bed, tmp_path: Path, redis_url: str, redis_conn: redis.Redis, busybox_image: str
) -> None:
    """images: pull records digests; after the tag moves, revert and rollback start the old one."""
    with running_registry(tmp_path) as registry:
        name = f"{registry}/triggers/web:stable"
        v1 = publish(bed.engine, busybox_image, name, "1")
        bed.create("services:\n  web:\n" + service(bed.port, image=name))
        bed.start()
        settings = settings_for(bed, tmp_path, redis_url, images="pull")
        good = deploy(settings, redis_conn, bed.commit({"NOTE": "a\n"}, "deploy v1"))
        assert good.state == "succeeded", good.error
        digest = good.image_digests["web"]
        assert digest.startswith(f"{registry}/triggers/web@sha256:")
        assert good.build == "pulled" and good.images == {"web": v1}
        commands = [c["argv"] for c in DeployStore(redis_conn).commands(good.id)]
        assert any(argv[-3:] == ["pull", "--quiet", "web"] for argv in commands)
        assert not any("build" in argv for argv in commands)
        # CI moves the tag to a broken image; the deploy of it fails health and reverts.
        publish(bed.engine, busybox_image, name, "2", health="sick")
        bad = deploy(settings, redis_conn, bed.commit({"NOTE": "b\n"}, "deploy v2"))
        assert bad.state == "reverted", bad.error
        assert_cause(bad, "answered without 'ok': sick")
        assert bed.version() == "1"
        assert any(
            argv[:4] == ["docker", "image", "tag", digest]
            for argv in (c["argv"] for c in DeployStore(redis_conn).commands(bad.id))
        )
        # CI moves the tag again, to a good v3; then a rollback to the first deploy.
        publish(bed.engine, busybox_image, name, "3")
        third = deploy(settings, redis_conn, bed.commit({"NOTE": "c\n"}, "deploy v3"))
        assert third.state == "succeeded", third.error
        assert bed.version() == "3"
        # The engine loses the old image (pruned by someone): the rollback pulls it by digest.
        run(["docker", "image", "rm", "--force", v1], env=bed.engine.env)
        plan = rollback_plan(redis_conn, settings, "sample/dev", good.id)
        back = queue_rollback(redis_conn, settings, plan, False, "tester")
        work(settings, redis_conn)
        back = DeployStore(redis_conn).get(back.id)
        assert back.state == "succeeded", back.error
        assert back.image_digests == {"web": digest} and back.images == {"web": v1}
        assert bed.version() == "1"
        assert ["docker", "pull", "--quiet", "--", digest] in argvs(redis_conn, back.id)


def test_profiled_service_is_deployed(
    bed: Bed, tmp_path: Path, redis_url: str, redis_conn: redis.Redis
) -> None:
    """compose.profiles reaches every compose command: the profiled service is built and up."""
    extra_port = free_port()
    compose_yml = (
        "services:\n  web:\n"
        + service(bed.port)
        + "  extra:\n"
        + service(extra_port, profiles=["extras"])
    )
    bed.create(compose_yml)
    bed.start()
    assert bed.version(extra_port) is None  # not started without the profile
    config = bed.environment()
    config["compose"]["profiles"] = ["extras"]
    settings = Settings.model_validate(config_for(config, tmp_path / "state", redis_url))
    record = deploy(settings, redis_conn, bed.commit({"web/www/version.txt": "2\n"}, "v2"))
    assert record.state == "succeeded", record.error
    assert bed.version() == "2" and bed.version(extra_port) == "2"
    commands = [c["argv"] for c in DeployStore(redis_conn).commands(record.id)]
    compose_runs = [argv for argv in commands if "--project-name" in argv]
    assert compose_runs and all(
        argv[argv.index("--profile") + 1] == "extras" for argv in compose_runs
    )
