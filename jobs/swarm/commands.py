"""argv for a swarm deploy: push what was built, deploy the stack, run and remove a one-off task.

Reads (services, tasks, nodes, an image's registry digest) go through the Docker SDK against
the manager; every change is one of these, run by the deploy's runner and fenced by its lock.
Deliberately absent: `docker stack rm`, `docker volume rm`, `prune` of any kind, `--force`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# What `docker stack deploy` accepts as a stack name, and what deployhook hands to it.
STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# A task's service name: the stack's name, `_`, and a short suffix deployhook made.
SERVICE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
NETWORK_NAME = SERVICE_NAME
CONTAINER_ID = re.compile(r"^[0-9a-f]{12,64}$")


def _checked(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"expected a {what} matching {pattern.pattern}, got {value!r}")
    return value


def push(name: str) -> list[str]:
    """Push `name` (registry/repo:tag) from the engine that built it."""
    return ["docker", "push", "--quiet", "--", name]


def stack_deploy(stack: str, files: Sequence[str], *, prune: bool = False) -> list[str]:
    """Deploy `files` (the user's Compose files, then deployhook's override) as `stack`.

    --with-registry-auth: the nodes pull from the environment's registry with the manager's
    credentials. --resolve-image changed: images deployhook pinned carry their digest already;
    an unchanged `image: postgres:16` is not re-resolved (a moved tag would update it silently).
    --prune only when a revert takes away services the failed version added.
    """
    argv = ["docker", "stack", "deploy", "--with-registry-auth", "--resolve-image", "changed"]
    for path in files:
        argv += ["--compose-file", str(path)]
    if prune:
        argv.append("--prune")
    return [*argv, _checked(STACK_NAME, stack, "stack name")]


def create_task(
    name: str,
    image: str,
    command: Sequence[str],
    *,
    networks: Sequence[str],
    env_file: str,
    labels: Mapping[str, str],
) -> list[str]:
    """A one-off task (a migration): runs `command` once in `image`, never restarted, detached.

    `--restart-condition none` with one replica: the task ends in `complete` or `failed` and
    Swarm starts no other; deployhook waits for it, reads its logs and removes the service.
    The service's environment comes from `env_file` (0600), so no value of it is in the argv
    that the deploy log shows.
    """
    argv = [
        "docker", "service", "create", "--detach", "--quiet",
        "--name", _checked(SERVICE_NAME, name, "service name"),
        "--restart-condition", "none", "--replicas", "1",
    ]  # fmt: skip
    for network in networks:
        argv += ["--network", _checked(NETWORK_NAME, network, "network name")]
    argv += ["--env-file", env_file]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    return [*argv, "--with-registry-auth", "--", image, *command]


def task_logs(name: str) -> list[str]:
    """Everything the one-off task printed, stdout and stderr, without timestamps."""
    return [
        "docker",
        "service",
        "logs",
        "--raw",
        "--no-trunc",
        _checked(SERVICE_NAME, name, "service name"),
    ]


def exec_in(
    host: str | None, container: str, command: Sequence[str], env: Sequence[str] = ()
) -> list[str]:
    """Run `command` in the database task's container, on the engine of the node it runs on.

    `host`: that node's engine (`--host`), None when it is the manager's own (DOCKER_HOST).
    `-i` and no tty, as `compose exec -T`: a dump streams out and a restore streams in.
    `env`: `-e NAME=VALUE` flags, as for `compose exec`.
    """
    prefix = ["docker"] if host is None else ["docker", "--host", host]
    return [
        *prefix,
        "exec",
        "-i",
        *env,
        _checked(CONTAINER_ID, container, "container id"),
        *command,
    ]


def scale_to_zero(services: Sequence[str]) -> list[str]:
    """Stop every task of `services` (`<stack>_<service>`), waiting until they stopped.

    Before a restore: the writers' writes are being discarded (and kept). The revert's stack
    deploy gives each service its replicas back from the Compose file.
    """
    names = [_checked(SERVICE_NAME, name, "service name") + "=0" for name in services]
    return ["docker", "service", "scale", "--detach=false", *names]


def remove_file(kind: str, name: str) -> list[str]:
    """Remove an old content-named config or secret (Swarm refuses one a service still uses)."""
    if kind not in ("config", "secret"):
        raise ValueError(f"expected config or secret, got {kind!r}")
    return ["docker", kind, "rm", _checked(SERVICE_NAME, name, f"{kind} name")]


def remove_task(name: str) -> list[str]:
    """Remove the one-off task's service (its container goes with it; it has no volume)."""
    return ["docker", "service", "rm", _checked(SERVICE_NAME, name, "service name")]
