"""Will the stack's proxy follow a zero-downtime service from container to container?

A swap moves the service's DNS name (jobs/runbook/stages/service_name.py); a proxy sees that only if
it looks the name up again. nginx looks up a name written in `proxy_pass http://api:8000;` or
in an `upstream { server api:8000; }` block once, when it starts, and then sends every request
to that one address: after a swap, to a container that is gone. Caddy's `dynamic a` upstreams
look up again every `refresh`, one minute unless set. Both are read here from the config files
the Compose model bind-mounts into a service; `warnings` is pure but for reading those files.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from jobs.compose.model import ComposeModel, ServiceMount

NGINX_FIX = (
    "let nginx resolve through Docker's DNS per request: `resolver 127.0.0.11 valid=1s "
    "ipv6=off;` then `set $upstream http://{host}:{port}; proxy_pass $upstream;` "
    "(docs/zero-downtime.md)"
)
_PROXY_PASS = re.compile(r"\bproxy_pass\s+https?://([A-Za-z0-9_.-]+)(?::(\d+))?")
_UPSTREAM = re.compile(r"\bupstream\s+[^\s{]+\s*\{([^}]*)\}")
_SERVER = re.compile(r"\bserver\s+([A-Za-z0-9_.-]+)(?::(\d+))?([^;]*);")
DYNAMIC_A = re.compile(r"\bdynamic\s+a\s*\{([^}]*)\}|\bdynamic\s+a\s+([A-Za-z0-9_.-]+)[^\n{]*\n")
_CONFIG_NAMES = ("Caddyfile", "nginx.conf")
# nginx resolving per request: a variable upstream, and the resolver's `valid=` (shared with
# jobs/compose/proxy_cache.py, which reads how old an answer may be).
NGINX_VARIABLE = re.compile(r"\bset\s+\$\w+\s+[\"']?(?:https?://)?([A-Za-z0-9_.-]+)(?::(\d+))?")
RESOLVER = re.compile(r"\bresolver\s+([^;]*);")
VALID = re.compile(r"\bvalid=([0-9]+)(ms|s|m|h)?\b")


def warnings(
    model: ComposeModel, names: list[str], read: Callable[[Path], str | None]
) -> list[str]:
    """One line per proxy setting that keeps a zero-downtime service's old address."""
    found: list[str] = []
    for service in sorted(model.services.values(), key=lambda s: s.name):
        texts = {path: read(path) for path in config_files(service.mounts)}
        # nginx's resolver often sits in nginx.conf, the upstream in conf.d/: read together.
        together = "\n".join(filter(None, texts.values()))
        for path, text in texts.items():
            if text:
                where = f"service {service.name} ({path})"
                found += [f"{where}: {line}" for line in problems(text, set(names), together)]
    return found


def config_files(mounts: tuple[ServiceMount, ...]) -> list[Path]:
    """Proxy config files among the bind mounts: a file, or the *.conf and Caddyfile in a dir."""
    files: list[Path] = []
    for mount in mounts:
        if mount.type != "bind" or not mount.source:
            continue
        source = Path(mount.source)
        if source.is_dir():
            files += sorted(p for p in source.glob("*") if _is_config(p.name) and p.is_file())
        elif _is_config(source.name) or _is_config(Path(mount.target).name):
            files.append(source)
    return files


def _is_config(name: str) -> bool:
    return name.endswith(".conf") or name in _CONFIG_NAMES or name.startswith("Caddyfile")


def problems(text: str, names: set[str], together: str = "") -> list[str]:
    """What in one config file resolves a zero-downtime service's name once, or too rarely;
    `together`: every config file of its service (where nginx's `resolver` may be)."""
    text = re.sub(r"#[^\n]*", "", text)
    found = []
    for match in _PROXY_PASS.finditer(text):
        host, port = match.group(1), match.group(2) or "80"
        if host in names:
            found.append(
                f"`proxy_pass http://{host}:{port}` resolves {host} once, when nginx starts, "
                "and never sees a swapped container; fix: " + NGINX_FIX.format(host=host, port=port)
            )
    for block in _UPSTREAM.finditer(text):
        for server in _SERVER.finditer(block.group(1)):
            host, port, options = server.group(1), server.group(2) or "80", server.group(3)
            if host in names and "resolve" not in options.split():
                found.append(
                    f"`upstream {{ server {host}:{port}; }}` resolves {host} once, when nginx "
                    "starts; fix: " + NGINX_FIX.format(host=host, port=port)
                )
    resolver = RESOLVER.search(re.sub(r"#[^\n]*", "", together or text))
    if resolver is None or not VALID.search(resolver.group(1)):
        variables = {m.group(1): m.group(2) or "80" for m in NGINX_VARIABLE.finditer(text)}
        for host in sorted(set(variables) & names):
            found.append(
                f"`set $... http://{host}:{variables[host]}` with "
                + ("a `resolver` without `valid=` keeps Docker's answers for their 600 s TTL"
                   if resolver else "no `resolver` cannot resolve it at all")
                + "; fix: " + NGINX_FIX.format(host=host, port=variables[host])
            )  # fmt: skip
    for dynamic in DYNAMIC_A.finditer(text):
        body = dynamic.group(1) or ""
        host = dynamic.group(2) or _first(re.findall(r"\bname\s+([A-Za-z0-9_.-]+)", body))
        if host in names and not re.search(r"\brefresh\s+([0-9.]+)(ms|s)\b", body):
            found.append(
                f"`dynamic a` for {host} looks it up again only every minute (Caddy's default "
                "refresh); fix: set `refresh 1s` in its block (docs/zero-downtime.md)"
            )
    return found


def _first(values: list[str]) -> str:
    return values[0] if values else ""


def read_text(path: Path) -> str | None:
    """A config file's text; None when it cannot be read (not ours to complain about here)."""
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None
