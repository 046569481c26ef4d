"""Path filters, polling decisions, pinned images and profiles: the pure parts and argv."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from config import ConfigError, parse_settings
from config.globs import glob_problem, matches_any, watched
from jobs.commands import docker as docker_argv
from jobs.commands.compose import Compose
from jobs.commands.git import diff_names, ls_remote
from jobs.compose.model import ComposeModel, ServiceModel
from jobs.doctor.summary import summarise
from jobs.report.text import describe
from jobs.state.records import Deploy
from jobs.state.submit import DeployRequest, Duplicate, Submitted, submit
from jobs.triggers.paths import intake_verdict
from jobs.triggers.poll import Found, decide
from jobs.triggers.rebuild import services_to_build
from jobs.triggers.remote import matching, parse_listing, refs_to_ask, trigger_ls_remote
from webhook.changed_files import changed_files

A, B, C = "a" * 40, "b" * 40, "c" * 40
BASE = """
projects:
  crm:
    repo: github.com/acme/crm
    provider: github
    secret: s3cret-value-for-tests
    environments:
      dev:
        trigger: {%(trigger)s}
        path: /srv/crm-dev
        compose: {files: [compose.yml], project: crm_dev%(compose)s}
        health: {url: "http://127.0.0.1:8000/healthz"}
%(extra)s
      staging:
        trigger: {branch: main}
        path: /srv/crm-staging
        compose: {files: [compose.yml], project: crm_staging}
        health: {url: "http://127.0.0.1:8001/healthz"}
"""


def settings_with(extra: str = "", compose: str = "", trigger: str = "branch: main") -> object:
    text = BASE % {"extra": extra, "compose": compose, "trigger": trigger}
    return parse_settings(text, "test.yml", {})


def problems_of(extra: str = "", compose: str = "") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_with(extra, compose)
    return caught.value.problems


GLOBS = [
    ("services/api/**", "services/api/app/main.py", True),
    ("services/api/**", "services/api", False),
    ("services/api/**", "services/apiary/x.py", False),
    ("services/api", "services/api/app/main.py", True),
    ("services/*", "services/web/index.html", True),
    ("migrations/**", "migrations/versions/0002_add.py", True),
    ("*.md", "README.md", True),
    ("*.md", "docs/guide.md", False),
    ("**/*.md", "docs/deep/guide.md", True),
    ("**/*.md", "README.md", True),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b/c.txt", True),
    ("a/**/b", "a/x/bb", False),
    ("compose.y?ml", "compose.yaml", True),
    ("compose.y?ml", "compose.yml", False),
    ("v[0-9].txt", "v7.txt", True),
    ("v[!0-9].txt", "v7.txt", False),
    ("odd+name(1).txt", "odd+name(1).txt", True),
    ("odd+name(1).txt", "oddname1.txt", False),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), GLOBS)
def test_watched_path_globs(pattern: str, path: str, expected: bool) -> None:
    """A glob watches exactly the paths the docs say: ** spans directories, * stays in one."""
    assert matches_any([pattern], path) is expected


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "empty"),
        ("/services/api", "relative"),
        ("services\\api", "relative"),
        ("services/../api", "'..'"),
        ("services//api", "empty"),
        ("a**b", "whole segment"),
        ("v[0-9.txt", "unclosed"),
        (" docs", "spaces"),
        ("[z-a]", "not a valid glob (bad character range z-a"),
        ("src/[]x", "not a valid glob"),
        ("[[:alpha:]]", "not a valid glob"),
    ],
)
def test_bad_globs_say_why(pattern: str, problem: str) -> None:
    """A malformed watched path is refused with a reason naming the mistake."""
    found = glob_problem(pattern)
    assert found is not None and problem in found


NASTY = [
    "[z-a]", "src/[]x", "[]", "[!]", "[]]", "a]b[", "[a-]", "[-a]", "[\\]", "x[", "]",
    "(", ")", "a{b,c}", "a|b", "$", "^x", "a+", "?*?", "**", "**/**", "[[]", "[^a]", "#x", "!x",
]  # fmt: skip


@pytest.mark.parametrize("pattern", NASTY)
def test_a_glob_check_config_accepts_can_be_matched(pattern: str) -> None:
    """Whatever passes the check either matches without an error or was refused with a
    reason: no glob passes check-config and then fails at intake."""
    if glob_problem(pattern) is None:
        matches_any([pattern], "src/x/y.txt")


def test_watched_keeps_order_and_only_hits() -> None:
    """`watched` returns the changed files a pattern covers, in the order git gave them."""
    changed = ["docs/a.md", "services/api/x.py", "README.md", "migrations/1.py"]
    assert watched(["services/api/**", "migrations/**"], changed) == [
        "services/api/x.py",
        "migrations/1.py",
    ]


VERDICTS = [
    # paths configured?, live, before, changed files, verdict
    (True, A, A, ["docs/readme.md"], "ignore"),
    (True, A, A, ["docs/readme.md", "services/api/x.py"], "queue"),
    (True, A, B, ["docs/readme.md"], "queue"),  # before is not live: the diff is bigger
    (True, None, A, ["docs/readme.md"], "queue"),  # nothing live: everything is new
    (True, A, A, None, "queue"),  # the payload's lists may be partial
    (True, A, A, [], "ignore"),
    (False, A, A, ["docs/readme.md"], "queue"),  # no filter
]


@pytest.mark.parametrize(("filtered", "live", "before", "changed", "verdict"), VERDICTS)
def test_intake_ignores_only_what_the_payload_proves(
    filtered: bool, live: str | None, before: str, changed: list[str] | None, verdict: str
) -> None:
    """The intake answers ignored only when `before` is live and the file lists are complete."""
    extra = '        paths: ["services/api/**", "migrations/**"]' if filtered else ""
    environment = settings_with(extra).environment("crm", "dev")  # type: ignore[attr-defined]
    assert intake_verdict(environment, live, before, changed) == verdict


def _commits(count: int) -> list[dict[str, list[str]]]:
    return [{"added": [f"a{i}"], "modified": [f"m{i}"], "removed": []} for i in range(count)]


CHANGED = [
    ("github", {"commits": _commits(2)}, ["a0", "m0", "a1", "m1"]),
    ("github", {"commits": _commits(19)}, [n for i in range(19) for n in (f"a{i}", f"m{i}")]),
    ("github", {"commits": _commits(20)}, None),  # GitHub stops listing at 20
    ("github", {"commits": _commits(2), "forced": True}, None),
    ("github", {"commits": []}, None),  # a tag or a new branch at an old commit
    ("github", {}, None),
    ("github", {"commits": [{"added": ["x"], "modified": "y", "removed": []}]}, None),
    ("gitea", {"commits": _commits(1), "total_commits": 1}, ["a0", "m0"]),
    ("gitea", {"commits": _commits(1), "total_commits": 30}, None),
    ("gitlab", {"commits": _commits(2), "total_commits_count": 2}, ["a0", "m0", "a1", "m1"]),
    ("gitlab", {"commits": _commits(20), "total_commits_count": 25}, None),
    ("gitlab", {"commits": _commits(2)}, None),
]


@pytest.mark.parametrize(("provider", "payload", "expected"), CHANGED)
def test_changed_files_from_payloads(
    provider: str, payload: dict[str, object], expected: list[str] | None
) -> None:
    """Payload file lists count only when complete; anything partial or odd gives None."""
    assert changed_files(provider, payload) == expected


DECISIONS = [
    # trigger kind, refs the remote has now, refs the last poll saw, live commit, expected
    ("branch", {"main": B}, {"main": A}, A, Found("main", B)),
    ("branch", {"main": A}, {"main": A}, None, None),
    ("branch", {"main": B}, None, A, Found("main", B)),  # first poll: compared with live
    ("branch", {"main": A}, None, A, None),
    ("branch", {"main": B}, None, None, Found("main", B)),
    ("branch", {}, {"main": A}, A, None),  # the branch is gone: nothing to deploy
    ("tag", {"v1.9": A, "v1.10": B}, {"v1.9": A}, A, Found("v1.10", B)),
    ("tag", {"v1.9": A, "v1.10": B, "v1.11": C}, {"v1.9": A}, A, Found("v1.11", C)),
    ("tag", {"v1.9": A, "v1.10": B}, None, A, None),  # first poll: existing tags are history
    ("tag", {"v1.9": A}, None, None, Found("v1.9", A)),  # nothing live yet
    ("tag", {"v1.9": B}, {"v1.9": A}, A, Found("v1.9", B)),  # a moved tag is new
    ("tag", {"v1.9": A}, {"v1.9": A}, A, None),
]


@pytest.mark.parametrize(("kind", "now", "seen", "live", "expected"), DECISIONS)
def test_poll_decides_what_is_new(
    kind: str, now: dict[str, str], seen: dict[str, str] | None, live: str | None, expected: object
) -> None:
    """A poll deploys a moved branch or the newest new tag, never what is already live."""
    assert decide(kind, now, seen, live) == expected


def test_poll_asks_and_filters_refs() -> None:
    """A tag trigger asks for every tag and keeps the glob's matches, peeled to commits."""
    listing = parse_listing(
        f"{A}\trefs/heads/main\n{B}\trefs/tags/v1.0\n{C}\trefs/tags/v1.0^{{}}\n"
        f"{A}\trefs/tags/nightly\n{B}\trefs/heads/v2.0\n"
    )
    tags = settings_with(trigger='tag: "v*"').environment("crm", "dev").trigger  # type: ignore[attr-defined]
    branch = settings_with().environment("crm", "dev").trigger  # type: ignore[attr-defined]
    assert (refs_to_ask(tags), matching(tags, listing)) == (["refs/tags/*"], {"v1.0": C})
    assert (refs_to_ask(branch), matching(branch, listing)) == (["refs/heads/main"], {"main": A})


def test_git_argv() -> None:
    """The triggers' git commands are exact argv lists that end option parsing before values."""
    checkout = Path("/srv/crm")
    assert diff_names(checkout, A, B) == [
        "git", "-C", "/srv/crm", "diff", "--name-only", "-z", "--no-renames",
        "--end-of-options", A, B,
    ]  # fmt: skip
    assert ls_remote(checkout, "origin", ["refs/heads/main"]) == [
        "git", "-C", "/srv/crm", "ls-remote", "--end-of-options", "origin", "refs/heads/main",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("trigger", "asked"),
    [("branch: main", ["refs/heads/main"]), ('tag: "v*"', ["refs/tags/*"])],
)
def test_the_one_ls_remote_argv(trigger: str, asked: list[str]) -> None:
    """Polling and the doctor ask the remote with one argv: the trigger's branch, or every tag."""
    environment = settings_with(trigger=trigger).environment("crm", "dev")  # type: ignore[attr-defined]
    assert trigger_ls_remote(environment) == [
        "git", "-C", "/srv/crm-dev", "ls-remote", "--end-of-options", "origin", *asked,
    ]  # fmt: skip


def test_image_argv() -> None:
    """Digest pinning runs exact docker argv: inspect RepoDigests, pull and tag by digest."""
    digest = "127.0.0.1:5000/app@sha256:" + "0" * 64
    assert docker_argv.repo_digests("127.0.0.1:5000/app:stable") == [
        "docker", "image", "inspect", "--format", "{{json .RepoDigests}}", "--",
        "127.0.0.1:5000/app:stable",
    ]  # fmt: skip
    assert docker_argv.pull_digest(digest) == ["docker", "pull", "--quiet", "--", digest]
    assert docker_argv.tag_image(digest, "127.0.0.1:5000/app:stable") == [
        "docker", "image", "tag", digest, "127.0.0.1:5000/app:stable",
    ]  # fmt: skip


def test_compose_profiles_reach_every_command() -> None:
    """Each configured profile is a --profile option in the base argv of every compose command."""
    settings = settings_with(compose=", profiles: [workers, extra]")
    environment = settings.environment("crm", "dev")  # type: ignore[attr-defined]
    compose = Compose.for_environment(environment, ["docker", "compose"])
    base = [
        "docker", "compose", "--project-name", "crm_dev", "--project-directory", "/srv/crm-dev",
        "--file", "/srv/crm-dev/compose.yml", "--profile", "workers", "--profile", "extra",
    ]  # fmt: skip
    assert compose.build() == [*base, "build"]
    assert compose.up(["api"]) == [*base, "up", "--detach", "--no-build", "api"]
    assert compose.stop(["api"]) == [*base, "stop", "api"]
    assert compose.exec("api", ["true"]) == [*base, "exec", "-T", "api", "true"]
    assert compose.config_json() == [*base, "config", "--format", "json"]
    assert compose.pull(["api", "web"]) == [*base, "pull", "--quiet", "api", "web"]


def test_no_profiles_no_option() -> None:
    """Without profiles the base argv has no --profile at all."""
    environment = settings_with().environment("crm", "dev")  # type: ignore[attr-defined]
    assert "--profile" not in Compose.for_environment(environment, ["docker-compose"]).build()


def test_trigger_options_are_validated_with_their_paths() -> None:
    """Each new option's mistakes are reported at once, each with its key path."""
    extra = (
        '        paths: ["services/api/**", "/abs", "a**b"]\n'
        "        poll: {interval: 5, every: 3}\n"
        "        images: fetch"
    )
    problems = problems_of(extra, compose=', profiles: [ok, "bad name"]')
    where = "projects.crm.environments.dev"
    expected = [
        f"{where}.compose.profiles.1: expected a Compose profile name",
        f"{where}.paths.1: '/abs' must be relative to the repository root",
        f"{where}.paths.2: 'a**b' uses ** inside a segment",
        f"{where}.poll.interval: Input should be greater than or equal to 10",
        f"{where}.poll.every: unknown key",
        f"{where}.images: Input should be 'build' or 'pull'",
    ]
    for start in expected:
        assert any(problem.startswith(start) for problem in problems), (start, problems)
    assert len(problems) == len(expected), problems


def test_an_empty_paths_list_is_refused() -> None:
    """`paths: []` would deploy nothing ever: it is an error, not a silent filter."""
    problems = problems_of("        paths: []")
    assert any(p.startswith("projects.crm.environments.dev.paths:") for p in problems), problems


def _request(environment: str, sha: str, trigger: str) -> DeployRequest:
    return DeployRequest("crm", environment, "branch", "main", sha, trigger, dedupe_commit=True)


def test_webhook_and_poll_for_one_commit_queue_once(redis_conn: redis.Redis) -> None:
    """A poll after a webhook for the same commit (or the reverse) is a duplicate of it."""
    settings = settings_with()
    first = submit(redis_conn, settings, [_request("dev", A, "github push")], "guid-1")
    again = submit(redis_conn, settings, [_request("dev", A, "poll")])
    assert isinstance(first, Submitted) and isinstance(again, Duplicate)
    assert again.deploy_id == first.deploys[0].id
    polled = submit(redis_conn, settings, [_request("dev", B, "poll")])
    hooked = submit(redis_conn, settings, [_request("dev", B, "github push")], "guid-2")
    assert isinstance(polled, Submitted) and isinstance(hooked, Duplicate)
    assert hooked.deploy_id == polled.deploys[0].id


def test_commit_dedupe_drops_only_the_environment_that_had_it(redis_conn: redis.Redis) -> None:
    """A delivery for two environments, one polled already, still queues the other one."""
    settings = settings_with()
    polled = submit(redis_conn, settings, [_request("dev", A, "poll")])
    both = [_request("dev", A, "github push"), _request("staging", A, "github push")]
    hooked = submit(redis_conn, settings, both, "guid-3")
    assert isinstance(polled, Submitted) and isinstance(hooked, Submitted)
    assert [d.environment for d in hooked.deploys] == ["staging"]
    other = submit(redis_conn, settings, [_request("dev", B, "manual")])
    manual = DeployRequest("crm", "dev", "branch", "main", A, "manual")  # operators never dedupe
    assert isinstance(other, Submitted)
    assert isinstance(submit(redis_conn, settings, [manual]), Submitted)


def test_check_config_summarises_the_trigger_options() -> None:
    """check-config prints each environment's poll, paths, pulled images and profiles."""
    extra = '        paths: ["web/**"]\n        poll: {interval: 60}\n        images: pull'
    summary = summarise(settings_with(extra, compose=", profiles: [extras]"))  # type: ignore[arg-type]
    assert "    polls origin every 60s (in the worker)" in summary
    assert "    deploys only when these change: web/**" in summary
    assert "    pulls its images (compose pull), pinned by digest" in summary
    assert "    compose profiles: extras" in summary


def _model(**services: tuple[str | None, str | None]) -> ComposeModel:
    return ComposeModel(
        {
            name: ServiceModel(name, None, context is not None, build_context=context,
                               dockerfile=dockerfile)
            for name, (context, dockerfile) in services.items()
        }
    )  # fmt: skip


REBUILDS = [
    # changed files, expected services to build (None: all)
    (["services/api/app.py"], ["api"]),
    (["services/web/index.html", "services/api/x.py"], ["api", "web"]),
    (["docs/readme.md"], []),
    (["migrations/0002.py"], []),
    (["compose.yml"], None),  # build args or contexts may have changed
    (["docker/web.Dockerfile"], ["web"]),  # a Dockerfile outside its context
    (["services/apix/a.py"], []),
]


@pytest.mark.parametrize(("changed", "expected"), REBUILDS)
def test_only_services_whose_build_context_changed_are_rebuilt(
    changed: list[str], expected: list[str] | None
) -> None:
    """A changed file rebuilds the services whose context or Dockerfile holds it, no others."""
    model = _model(
        api=("/srv/mono/services/api", "Dockerfile"),
        web=("/srv/mono/services/web", "../../docker/web.Dockerfile"),
        db=(None, None),
    )
    assert services_to_build(model, "/srv/mono", ["compose.yml"], changed) == expected


def test_a_context_outside_the_checkout_rebuilds_all() -> None:
    """A git URL (or foreign directory) as build context cannot be diffed: build everything."""
    model = _model(api=("https://github.com/acme/api.git#main", None))
    assert services_to_build(model, "/srv/mono", ["compose.yml"], ["README.md"]) is None
    root = _model(app=("/srv/mono", "Dockerfile"))
    assert services_to_build(model=root, checkout="/srv/mono", compose_files=[],
                             changed=["README.md"]) == ["app"]  # fmt: skip


def test_skipped_deploy_is_described_with_its_reason() -> None:
    """A skipped deploy's commit status text says it was not deployed, and why."""
    record = Deploy(
        id="d-20261127-100000-abcdef", project="crm", environment="dev", ref_kind="branch",
        ref_name="main", sha=A, trigger="poll", state="skipped",
        error="no watched path changed since the live commit aaaaaaaaaaaa",
    )  # fmt: skip
    assert describe(record) == (
        "not deployed to dev: no watched path changed since the live commit aaaaaaaaaaaa"
    )
