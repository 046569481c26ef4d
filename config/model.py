"""The shape of deployhook's configuration: projects -> environments, plus server-wide settings.

Every model forbids unknown keys, so a misspelt key is an error instead of a silently ignored
setting. Cross-field rules live in validators whose messages say what to write instead.
"""

from __future__ import annotations

import base64
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)

from config.auth import Auth, cookie_problem
from config.gates import Hooks, WaitForChecks, Window
from config.globs import glob_problem
from config.offsite import Offsite
from config.secrets import Secret
from config.sentinel import SentinelSettings
from config.targets import target_of

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")]
# PostgreSQL role and database names as deployhook accepts them: no quoting surprises.
PG_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$"
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")]
# A Docker daemon reached over its unix socket, over ssh (the docker CLI's own ssh transport), or
# over tcp:// with TLS client certificates (`docker_tls`): plain tcp:// without TLS hands root on
# the host to the network, so a tcp:// docker_host without docker_tls is refused.
DOCKER_HOST_PATTERN = (
    r"^(unix:///[^\s]+"
    r"|ssh://([A-Za-z0-9_][A-Za-z0-9_.-]*@)?[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?"
    r"|tcp://[A-Za-z0-9][A-Za-z0-9.-]*:[0-9]{1,5})$"
)


# Webhook secrets and the server token are what deployhook itself checks: too short, and they
# can be guessed or brute-forced offline from one signed request.
MIN_SECRET_LENGTH = 16


def _long_enough(secret: Secret) -> Secret:
    if len(secret.reveal()) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"too short: use at least {MIN_SECRET_LENGTH} random characters "
            "(make one: openssl rand -hex 32)"
        )
    return secret


StrongSecret = Annotated[Secret, AfterValidator(_long_enough)]


def _not_own(name: str) -> str:
    if name.startswith("DEPLOYHOOK_"):
        raise ValueError("deployhook's own DEPLOYHOOK_* variables are never passed to commands")
    return name


# A variable of the worker's environment that an environment's commands may also see (`env:`).
EnvName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"), AfterValidator(_not_own)
]
DockerHost = Annotated[str, StringConstraints(pattern=DOCKER_HOST_PATTERN, max_length=400)]
# A swarm node as `docker node ls` names it: its hostname or its ID.
NodeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]

# git check-ref-format, reduced to what a trigger may name; globs are allowed in tag patterns.
_REF_FORBIDDEN = re.compile(r"(\.\.|@\{|//|[\x00-\x20\x7f~^:\\]|^[/.-]|[/.]\Z|\.lock\Z)")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(Strict):
    """Which pushes deploy an environment: a branch by exact name, or tags matching a glob."""

    branch: str | None = None
    tag: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        given = [name for name in ("branch", "tag") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of branch, tag")
        value = self.branch if self.branch is not None else str(self.tag)
        if not value or _REF_FORBIDDEN.search(value):
            raise ValueError(f"{given[0]} {value!r} is not a valid git ref name")
        return self

    @property
    def kind(self) -> Literal["branch", "tag"]:
        return "branch" if self.branch is not None else "tag"

    @property
    def pattern(self) -> str:
        return self.branch if self.branch is not None else str(self.tag)

    def matches(self, ref_kind: str, ref_name: str) -> bool:
        """The one trigger rule (webhook routing, polling, a manual deploy's default ref): a
        branch by exact name (`*` is just a character there), tags by glob, never across."""
        if ref_kind != self.kind:
            return False
        return (
            ref_name == self.pattern
            if ref_kind == "branch"
            else fnmatchcase(ref_name, self.pattern)
        )


class Compose(Strict):
    files: list[str] = Field(min_length=1)
    project: Name
    # "auto" prefers the `docker compose` plugin and falls back to `docker-compose`.
    command: Literal["auto", "docker compose", "docker-compose"] = "auto"
    remove_orphans: bool = False
    # Compose profiles to enable: `--profile NAME` on every compose command deployhook runs.
    profiles: list[ServiceName] = []


# A database URL's query parameters that deployhook hands to libpq, as the environment
# variables libpq reads (the URL itself never reaches an argv: its password would show).
LIBPQ_URL_PARAMETERS = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY", "sslcrl": "PGSSLCRL", "sslcrldir": "PGSSLCRLDIR",
    "sslcompression": "PGSSLCOMPRESSION", "sslsni": "PGSSLSNI",
    "sslnegotiation": "PGSSLNEGOTIATION", "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION", "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE", "require_auth": "PGREQUIREAUTH",
    "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME",
    "options": "PGOPTIONS", "target_session_attrs": "PGTARGETSESSIONATTRS",
    "krbsrvname": "PGKRBSRVNAME", "passfile": "PGPASSFILE", "service": "PGSERVICE",
    "host": "PGHOST", "port": "PGPORT",  # libpq's own spelling, e.g. a socket directory
}  # fmt: skip


class Database(Strict):
    """PostgreSQL to back up before every deploy: inside a compose service, or at a URL."""

    service: ServiceName | None = None
    url: Secret | None = None
    user: Annotated[str, StringConstraints(pattern=PG_IDENTIFIER)] = "postgres"
    name: Annotated[str, StringConstraints(pattern=PG_IDENTIFIER)]
    # Services stopped while a backup is restored; default: derived from the Compose model
    # (services that depend on the database service or carry its connection settings).
    writers: list[ServiceName] | None = None
    # For a role that may create databases: restore each deploy's backup into a standby
    # database in the background as soon as it is taken, so that a revert that restores only
    # renames (jobs/database/standby.py). Costs the database's size on disk and a restore's
    # I/O during the deploy; false: the revert restores into the standby when it needs to.
    prepare_restore: bool = True

    @model_validator(mode="after")
    def _one_location(self) -> Database:
        if (self.service is None) == (self.url is None):
            raise ValueError("give exactly one of service (a compose service) or url")
        if self.url is not None:
            parts = urlsplit(self.url.reveal())
            if parts.scheme not in ("postgres", "postgresql"):
                raise ValueError("url: must be postgresql://[user[:password]@]host[:port][/db]")
            unknown = sorted(
                {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
                - set(LIBPQ_URL_PARAMETERS)
            )
            if unknown:
                raise ValueError(
                    f"url: unknown parameter {', '.join(unknown)} (libpq's are "
                    "sslmode, sslrootcert, sslcert, sslkey, connect_timeout, ...; see the README)"
                )
        return self


class Rehearse(Strict):
    """Run the new migration against a throwaway copy of the backup before production changes."""

    # A rehearsal that takes longer than this is reported (log, record, reports) as slow.
    slow_after: float = Field(default=60, gt=0)
    # Seconds for the migration in the rehearsal; default: migrate.timeout.
    timeout: float | None = Field(default=None, gt=0)
    # Seconds for the throwaway PostgreSQL to start and take the backup.
    ready_timeout: float = Field(default=120, gt=0)


class Migrate(Strict):
    service: ServiceName = "api"
    command: list[str] = Field(default=["alembic", "upgrade", "head"], min_length=1)
    timeout: float = Field(default=600, gt=0)
    # before_swap: in a one-off container of the new image (`compose run --rm --no-deps`) while
    # the old version serves; after_swap: `compose exec` in the freshly started service.
    when: Literal["before_swap", "after_swap"] = "after_swap"
    # Read before and after the migration with the schema's hash: a revert restores the
    # database only when either changed. null: compare the schema alone.
    version_query: str | None = Field(
        default="SELECT version_num FROM alembic_version ORDER BY 1", min_length=1
    )
    # `rehearse: true` (defaults) or `rehearse: {slow_after: 120}`; absent or false: off.
    rehearse: Rehearse | None = None

    @field_validator("rehearse", mode="before")
    @classmethod
    def _switch(cls, value: object) -> object:
        if value is True:
            return {}
        return None if value is False else value


class Health(Strict):
    url: HttpUrl
    expect_status: int = Field(default=200, ge=100, le=599)
    expect_body: str | None = None
    timeout: float = Field(default=120, gt=0)
    interval: float = Field(default=1.0, gt=0)
    # With zero_downtime: the port the service behind the URL listens on in its containers
    # (and that service, when zero_downtime names several). The health stage then reads the
    # URL's path on each new container directly too, and judges the release while the old
    # containers still drain (docs/zero-downtime.md, "Judged directly").
    port: int | None = Field(default=None, ge=1, le=65535)
    service: ServiceName | None = None


class Backups(Strict):
    # Default: <state_dir>/backups/<project>/<environment>.
    dir: Path | None = None
    keep_days: int = Field(default=30, ge=1)
    keep_count: int = Field(default=10, ge=1)
    min_free_mb: int = Field(default=512, ge=0)
    timeout: float = Field(default=1800, gt=0)
    # A restic repository off this host for every backup and kept dump (docs/backups.md).
    offsite: Offsite | None = None


class Timeouts(Strict):
    """Upper bounds, in seconds, for the commands of each stage."""

    fetch: float = Field(default=300, gt=0)
    build: float = Field(default=1800, gt=0)
    swap: float = Field(default=600, gt=0)
    restore: float = Field(default=1800, gt=0)


class DockerTls(Strict):
    """TLS for a docker_host at tcp://: the docker CLI's DOCKER_CERT_PATH, with verification on."""

    # A directory holding ca.pem (the daemon's CA), cert.pem and key.pem (this client's).
    cert_path: Path


class Swarm(Strict):
    """How a stack deploy on a swarm is watched (docs/swarm.md)."""

    # Seconds for every changed service's update to complete (UpdateStatus `completed`).
    update_timeout: float = Field(default=600, gt=0)
    # Seconds for the migration's one-off task to finish; default: migrate.timeout.
    task_timeout: float | None = Field(default=None, gt=0)
    # The engines of nodes other than the manager, by node hostname or ID: where deployhook
    # runs the database's commands (`docker exec`) when database.service's task runs there.
    # ssh:// or unix://; tcp:// uses the environment's docker_tls.
    nodes: dict[NodeName, DockerHost] = {}


class Poll(Strict):
    """Ask the remote for the trigger's ref every `interval` seconds (`git ls-remote`)."""

    interval: float = Field(ge=10, le=86400)


def _glob(pattern: str) -> str:
    problem = glob_problem(pattern)
    if problem:
        raise ValueError(f"{pattern!r} {problem}")
    return pattern


# A watched path: a glob over repository paths, `**` spanning directories (config/globs.py).
WatchedPath = Annotated[str, StringConstraints(max_length=400), AfterValidator(_glob)]


class Environment(Strict):
    trigger: Trigger
    path: Path
    compose: Compose
    health: Health
    database: Database | None = None
    migrate: Migrate | None = None
    backups: Backups = Backups()
    timeouts: Timeouts = Timeouts()
    # The deploy host whose worker runs this environment (its queue is deploys.<host>).
    host: Name = "local"
    # The Docker daemon this environment runs on (DOCKER_HOST for compose, docker and the SDK);
    # default: the worker's own environment, usually the local daemon.
    docker_host: DockerHost | None = None
    remote: str = "origin"
    # Where people reach this environment (GitHub's environment_url, Slack links).
    url: HttpUrl | None = None
    # Marks the environment as production in GitHub Deployments; default: tag-triggered.
    production: bool | None = None
    # Deploy a push only when a changed file matches one of these globs (monorepos).
    paths: list[WatchedPath] | None = Field(default=None, min_length=1)
    # Poll the remote for new commits of the trigger's ref, instead of or beside webhooks.
    poll: Poll | None = None
    # build: images built from the checkout; pull: images CI built, pulled and pinned by digest.
    images: Literal["build", "pull"] = "build"
    # Release gates and hooks (config/gates.py, docs/gates.md).
    promote_from: list[Name] = []  # deploy only commits that succeeded in these environments
    wait_for_checks: WaitForChecks | None = None
    windows: list[Window] = []  # none: any time
    hooks: Hooks = Hooks()
    # A webhook for a commit older than the live one (an ancestor of it) deploys it anyway.
    # Default: such a webhook is ignored; `deployhook rollback` is the way back.
    allow_older: bool = False
    # Services swapped without downtime: a new container joins the service's name only once
    # Docker calls it healthy; an old one leaves the name, drains, then stops
    # (docs/zero-downtime.md). Batch: how many of a service's containers change at once.
    zero_downtime: list[ServiceName] = []
    zero_downtime_batch: int = Field(default=1, ge=1)
    # Seconds an old container keeps serving after it left the name, before its SIGTERM;
    # default: the service's stop_grace_period, at most 30 s.
    zero_downtime_drain: float | None = Field(default=None, ge=0, le=3600)
    # Seconds between the new containers joining the name and the old ones leaving it: the
    # longest any proxy keeps an old DNS answer; default: read from the proxy configs the
    # Compose files mount (jobs/compose/proxy_cache.py), 3 s when none names the service.
    zero_downtime_settle: float | None = Field(default=None, ge=0, le=600)
    # Worker environment variables its commands and hooks also get, beyond the minimum
    # (jobs/commands/environ.py); a value holding a deployhook secret is never passed.
    env: list[EnvName] = []
    # compose: a Compose project on one engine; swarm: a stack on the swarm docker_host manages,
    # deployed by digest from a registry and watched until every changed service converged.
    engine: Literal["compose", "swarm"] = "compose"
    docker_tls: DockerTls | None = None
    swarm: Swarm | None = None
    # The names it is configured under, bound by Settings (see `target`).
    _project: str = PrivateAttr(default="")
    _name: str = PrivateAttr(default="")

    @model_validator(mode="before")
    @classmethod
    def _swarm_migrates_before_the_swap(cls, data: object) -> object:
        """On a swarm the migration runs before the stack deploy unless `when` says otherwise."""
        if isinstance(data, dict) and data.get("engine") == "swarm":
            migrate = data.get("migrate")
            if isinstance(migrate, dict) and "when" not in migrate:
                data = {**data, "migrate": {**migrate, "when": "before_swap"}}
        return data

    @model_validator(mode="after")
    def _tls_for_tcp(self) -> Environment:
        tcp = (self.docker_host or "").startswith("tcp://")
        if tcp and self.docker_tls is None:
            raise ValueError(
                "docker_host at tcp:// needs docker_tls.cert_path (ca.pem, cert.pem, key.pem): "
                "an engine over plain TCP hands root on its host to the network"
            )
        if self.docker_tls is not None and not tcp:
            raise ValueError("docker_tls is only for a docker_host at tcp://; remove docker_tls")
        return self

    @model_validator(mode="after")
    def _swarm_settings(self) -> Environment:
        if self.engine != "swarm":
            if self.swarm is not None:
                raise ValueError("swarm settings need engine: swarm; remove swarm or set engine")
            return self
        nodes = self.swarm_settings.nodes
        tcp_nodes = sorted(name for name, host in nodes.items() if host.startswith("tcp://"))
        if tcp_nodes and self.docker_tls is None:
            raise ValueError(
                f"swarm.nodes {', '.join(tcp_nodes)} at tcp:// need the manager at tcp:// with "
                "docker_tls: its certificates are the ones every node is reached with"
            )
        return self

    @model_validator(mode="after")
    def _migrate_before_zero_downtime_swap(self) -> Environment:
        if self.zero_downtime and self.migrate is not None and self.migrate.when != "before_swap":
            raise ValueError(
                "zero_downtime needs migrate.when: before_swap (the new containers must find "
                "their schema, and the old ones keep serving on it; see docs/zero-downtime.md)"
            )
        return self

    @model_validator(mode="after")
    def _health_behind_a_zero_downtime_service(self) -> Environment:
        health = self.health
        if health.port is None and health.service is None:
            return self
        if health.port is None:
            raise ValueError("health.service needs health.port (its port in the container)")
        if health.service is not None and health.service not in self.zero_downtime:
            raise ValueError(
                f"health.service {health.service} is not in zero_downtime "
                f"({', '.join(self.zero_downtime) or 'none'}); name one of those, or remove it"
            )
        if health.service is None and len(self.zero_downtime) != 1:
            raise ValueError(
                "health.port needs health.service when zero_downtime does not name exactly one "
                f"service (it names {', '.join(self.zero_downtime) or 'none'})"
            )
        return self

    @property
    def health_service(self) -> str | None:
        """The zero-downtime service behind the health URL, when health.port says its port."""
        if self.health.port is None:
            return None
        return self.health.service or self.zero_downtime[0]

    @model_validator(mode="after")
    def _rehearsal_needs_a_service(self) -> Environment:
        rehearse = self.migrate is not None and self.migrate.rehearse is not None
        if rehearse and (self.database is None or self.database.service is None):
            raise ValueError(
                "migrate.rehearse needs database.service: the rehearsal starts a copy of that "
                "service's image; a database at a url cannot be rehearsed (remove rehearse)"
            )
        return self

    @property
    def queue(self) -> str:
        return f"deploys.{self.host}"

    @property
    def project_name(self) -> str:
        return self._bound(self._project)

    @property
    def name(self) -> str:
        return self._bound(self._name)

    @property
    def target(self) -> str:
        """`project/environment`, the environment's name everywhere (config/targets.py)."""
        return target_of(self.project_name, self.name)

    def _bound(self, value: str) -> str:
        if not value:
            raise RuntimeError("an Environment knows its names only inside Settings")
        return value

    @property
    def swarm_settings(self) -> Swarm:
        return self.swarm or Swarm()

    @property
    def is_production(self) -> bool:
        return self.production if self.production is not None else self.trigger.kind == "tag"


class Project(Strict):
    # host/owner/name: the host holds a dot or a port (or is localhost), so that `acme/crm`,
    # which matches no payload's repository, is refused here instead of 403 on every push.
    repo: str = Field(pattern=r"^(?:localhost|[^\s/]*[.:][^\s/]*)(?:/[^\s/]+){2,}$")
    provider: Literal["github", "gitlab", "gitea"]
    secret: StrongSecret
    # GitLab >= 19 Standard Webhooks signing key (whsec_...): when set, signatures are required.
    signing_key: Secret | None = None
    # GitLab's numeric project id, for when the path in `repo` is not the project's API path.
    gitlab_project_id: int | None = Field(default=None, ge=1)
    environments: dict[Name, Environment] = Field(min_length=1)

    @model_validator(mode="after")
    def _signing_key_is_gitlab_only(self) -> Project:
        if self.signing_key is not None:
            if self.provider != "gitlab":
                raise ValueError("signing_key is only for provider gitlab")
            if not self.signing_key.reveal().startswith("whsec_"):
                raise ValueError("signing_key must start with whsec_ (GitLab shows it so)")
        if self.gitlab_project_id is not None and self.provider != "gitlab":
            raise ValueError("gitlab_project_id is only for provider gitlab")
        for name, environment in self.environments.items():
            for source in environment.promote_from:
                if source == name or source not in self.environments:
                    raise ValueError(
                        f"environments.{name}.promote_from: {source!r} is not another "
                        f"environment of this project (have: {', '.join(self.environments)})"
                    )
        return self

    @property
    def repo_path(self) -> str:
        """`owner/name` (or `group/sub/name`): the repository without its host."""
        return self.repo.split("/", 1)[1]


class Server(Strict):
    bind: str = "127.0.0.1:8080"
    workers: int = Field(default=2, ge=1)
    max_body_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # A body not fully received this long after the headers gets 408 (GitHub gives up at 10 s).
    body_timeout: float = Field(default=10.0, gt=0, le=300)
    # Live-log streams open at once per worker; one more is answered 503 with Retry-After.
    live_streams: int = Field(default=100, ge=1, le=10_000)
    # Where people reach the status page; used for links in reports.
    public_url: HttpUrl | None = None
    # Replaced by per-user tokens (config/auth.py); kept only to say so clearly.
    token: Secret | None = None

    @field_validator("token")
    @classmethod
    def _token_replaced(cls, value: Secret | None) -> Secret | None:
        if value is not None:
            raise ValueError(
                "server.token is gone: every caller now has its own token with a role; remove "
                "server.token and run `deployhook token create NAME --role deployer` "
                "(docs/security.md)"
            )
        return value


class RedisSettings(Strict):
    # None: `deployhook up` starts an embedded Redis with its data in the state directory.
    url: Secret | None = None
    # A master with replicas found through Sentinel, instead of `url` (docs/ha.md).
    sentinel: SentinelSettings | None = None
    # Replicas that must hold a delivery before the intake answers 202 (Redis WAIT); none
    # within `replica_timeout` seconds is a 503. Default: 1 with `sentinel`, else 0.
    replicas: int | None = Field(default=None, ge=0, le=10)
    replica_timeout: float = Field(default=1.0, gt=0, le=4)

    @model_validator(mode="after")
    def _one_way_to_redis(self) -> RedisSettings:
        if self.url is not None and self.sentinel is not None:
            raise ValueError("give url (or DEPLOYHOOK_REDIS_URL) or sentinel, not both")
        if self.replicas and not self.configured:
            raise ValueError(
                "replicas: the embedded Redis has no replicas, so every push would get 503; "
                "set redis.url or redis.sentinel, or leave replicas out"
            )
        return self

    @property
    def configured(self) -> bool:
        """A Redis of the operator's own (url or sentinel); else `deployhook up` embeds one."""
        return self.url is not None or self.sentinel is not None

    @property
    def acknowledging_replicas(self) -> int:
        """How many replicas must acknowledge a delivery before the intake answers 202."""
        if self.replicas is not None:
            return self.replicas
        return 1 if self.sentinel is not None else 0


class SlackNotify(Strict):
    webhook_url: Secret
    mention: str | None = None  # e.g. "<!here>" or "<!subteam^ID>", used when a revert fails
    notify_start: bool = False


class GithubNotify(Strict):
    token: Secret
    api_url: HttpUrl = "https://api.github.com"
    context: str = "deployhook/{environment}"
    deployments: bool = True


class GitlabNotify(Strict):
    token: Secret
    api_url: HttpUrl = "https://gitlab.com/api/v4"
    context: str = "deployhook/{environment}"


class GiteaNotify(Strict):
    token: Secret
    api_url: HttpUrl
    context: str = "deployhook/{environment}"


class WebhookNotify(Strict):
    url: Secret  # may carry a token in its path or query, so it is kept secret
    # The Standard Webhooks signing key (whsec_<base64 of 24-64 random bytes>): every
    # request carries webhook-id, webhook-timestamp and webhook-signature made with it.
    secret: Secret
    # http:// URLs are refused unless this says so (a receiver on loopback, a test bed).
    allow_http: bool = False

    @model_validator(mode="after")
    def _https_and_a_key(self) -> WebhookNotify:
        url = self.url.reveal()
        if not url.startswith("https://") and not (self.allow_http and url.startswith("http://")):
            raise ValueError(
                "url: must be https:// (for http:// on a trusted network, set allow_http: true)"
            )
        if not _standard_webhooks_key(self.secret.reveal()):
            raise ValueError(
                "secret: must be whsec_ followed by the base64 of 24 to 64 random bytes "
                '(make one: python3 -c "import base64,os; '
                "print('whsec_' + base64.b64encode(os.urandom(32)).decode())\")"
            )
        return self


def _standard_webhooks_key(text: str) -> bool:
    if not text.startswith("whsec_"):
        return False
    try:
        key = base64.b64decode(text.removeprefix("whsec_"), validate=True)
    except ValueError:
        return False
    return 24 <= len(key) <= 64


class Delivery(Strict):
    """How hard a reporter tries to deliver one request before it records a problem."""

    attempts: int = Field(default=5, ge=1, le=20)
    give_up_after: float = Field(default=120, gt=0, le=3600)  # seconds, over all attempts
    request_timeout: float = Field(default=10, gt=0, le=120)  # seconds, per attempt
    first_wait: float = Field(default=0.5, gt=0, le=60)  # backoff before the first retry
    max_wait: float = Field(default=30, gt=0, le=600)  # longest backoff between attempts


class Notify(Strict):
    slack: SlackNotify | None = None
    github: GithubNotify | None = None
    gitlab: GitlabNotify | None = None
    gitea: GiteaNotify | None = None
    webhook: WebhookNotify | None = None
    # Apprise URLs (ntfy://, discord://, msteams://, mailto://, ...): credentials, kept secret.
    apprise: list[Secret] = Field(default_factory=list)
    delivery: Delivery = Delivery()


class History(Strict):
    """How much deploy history Redis keeps (jobs/state/retention.py): a finished deploy goes,
    with its log and everything else of it, after keep_days or once keep_deploys newer ones
    of its environment exist; a running one and the last good one of each environment stay."""

    keep_days: int = Field(default=90, ge=1, le=3650)
    keep_deploys: int = Field(default=1000, ge=10, le=100_000)


class Settings(Strict):
    projects: dict[Name, Project] = Field(min_length=1)
    server: Server = Server()
    redis: RedisSettings = RedisSettings()
    state_dir: Path = Path("/var/lib/deployhook")
    history: History = History()
    notify: Notify = Notify()
    auth: Auth = Auth()

    @model_validator(mode="after")
    def _environments_know_their_names(self) -> Settings:
        for project_name, project in self.projects.items():
            for name, environment in project.environments.items():
                environment._project, environment._name = project_name, name
        return self

    @model_validator(mode="after")
    def _plain_cookies_on_loopback_only(self) -> Settings:
        problem = cookie_problem(self.auth.sessions.secure_cookie, self.server.bind)
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _checks_have_a_token(self) -> Settings:
        for project_name, project in self.projects.items():
            for name, environment in project.environments.items():
                if environment.wait_for_checks and getattr(self.notify, project.provider) is None:
                    raise ValueError(
                        f"projects.{project_name}.environments.{name}.wait_for_checks: reading "
                        f"CI results needs a token: add notify.{project.provider}.token"
                    )
        return self

    def environment(self, project: str, environment: str) -> Environment:
        return self.projects[project].environments[environment]

    def every_environment(self) -> list[Environment]:
        """Every configured environment, by project name, then environment name."""
        return [
            project.environments[name]
            for _, project in sorted(self.projects.items())
            for name in sorted(project.environments)
        ]

    def users_path(self) -> Path:
        return self.auth.users_path or self.state_dir / "users.yml"

    def backup_dir(self, project: str, environment: str) -> Path:
        configured = self.environment(project, environment).backups.dir
        return configured or self.state_dir / "backups" / project / environment

    def queues(self) -> list[str]:
        return sorted(
            {
                env.queue
                for project in self.projects.values()
                for env in project.environments.values()
            }
        )
