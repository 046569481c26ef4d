"""The settle: how long a proxy of the stack may keep an old DNS answer for a swapped service."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.compose.model import ComposeModel, ServiceModel, ServiceMount
from jobs.compose.proxy_cache import DEFAULT_SETTLE_SECONDS, cache_ages, settle

TEMPLATE_PROXY = Path(__file__).resolve().parents[1] / "zdt_app" / "proxy"
NGINX_VARIABLE = "location / { set $api http://api:8000; proxy_pass $api; }\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reverse_proxy api:8000", [0.0]),
        ("reverse_proxy http://api:8000 {\n lb_try_duration 5s\n}", [0.0]),
        ("reverse_proxy /v1/* api:8000 web:80", [0.0]),
        ("reverse_proxy {\n to api:8000\n}", [0.0]),
        ("reverse_proxy web:80", []),
        ("# reverse_proxy api:8000\nreverse_proxy web:80", []),
        ("reverse_proxy { dynamic a { name api\n port 8000\n refresh 1s } }", [1.0]),
        ("reverse_proxy { dynamic a { name api\n port 8000\n refresh 500ms } }", [0.5]),
        ("reverse_proxy { dynamic a { name api\n port 8000 } }", [60.0]),
        ("reverse_proxy { dynamic a api 8000\n }", [60.0]),
        ("reverse_proxy { dynamic a { name web\n refresh 1s } }", []),
        ("resolver 127.0.0.11 valid=1s ipv6=off;\n" + NGINX_VARIABLE, [2.0]),
        ("resolver 127.0.0.11 valid=5s;\n" + NGINX_VARIABLE, [6.0]),
        ("resolver 127.0.0.11 valid=1m;\n" + NGINX_VARIABLE, [61.0]),
        ("resolver 127.0.0.11 valid=1s;\nupstream a { zone z 64k; server api:8000 resolve; }",
         [2.0]),
        # Docker's 600 s TTL, or no resolver at all: no settle helps (proxy_check names it).
        ("resolver 127.0.0.11;\n" + NGINX_VARIABLE, []),
        (NGINX_VARIABLE, []),
        ("location / { proxy_pass http://api:8000; }", []),  # resolved once: proxy_check
    ],
)  # fmt: skip
def test_cache_ages_per_proxy_setting(text: str, expected: list[float]) -> None:
    """How old each proxy setting's answer for `api` may be, and nothing for other names."""
    assert [age for age, _ in cache_ages(text, {"api"})] == expected


def _model(tmp_path: Path, configs: dict[str, str]) -> tuple[ComposeModel, dict[Path, str]]:
    """One proxy service per config file, bind-mounting it."""
    services, files = {}, {}
    for name, text in configs.items():
        path = tmp_path / name / ("Caddyfile" if "caddy" in name else "nginx.conf")
        files[path] = text
        mount = ServiceMount("bind", f"/etc/{name}/{path.name}", str(path))
        services[name] = ServiceModel(name=name, image=name, builds=False, mounts=(mount,))
    return ComposeModel(services), files


def test_settle_is_the_longest_cache_plus_a_second(tmp_path: Path) -> None:
    """Several proxies: the slowest to learn the new address decides, plus 1 s; the log
    line names it."""
    model, files = _model(
        tmp_path,
        {
            "caddy": "reverse_proxy api:8000",
            "nginx": "resolver 127.0.0.11 valid=1s;\n" + NGINX_VARIABLE,
        },
    )
    found = settle(model, ["api"], None, files.get)
    assert found.seconds == 3.0
    assert found.why == "nginx keeps api up to valid=1s + 1 s (service nginx)"


def test_settle_is_zero_when_every_proxy_resolves_per_connection(tmp_path: Path) -> None:
    """Caddy resolving at each connection knows a new container as soon as it joins."""
    model, files = _model(tmp_path, {"caddy": "reverse_proxy api:8000"})
    found = settle(model, ["api"], None, files.get)
    assert (found.seconds, found.why) == (
        0.0,
        "Caddy resolves api at each connection (service caddy)",
    )


def test_settle_defaults_when_no_proxy_config_names_the_service(tmp_path: Path) -> None:
    """A proxy outside the Compose files, or one not read here: the safe default."""
    model, files = _model(tmp_path, {"caddy": "reverse_proxy web:80"})
    found = settle(model, ["api"], None, files.get)
    assert found.seconds == DEFAULT_SETTLE_SECONDS == 3.0
    assert found.why == "no proxy config in the Compose files names api"
    unreadable = settle(model, ["api"], None, lambda path: None)
    assert unreadable.seconds == DEFAULT_SETTLE_SECONDS


def test_configured_settle_wins(tmp_path: Path) -> None:
    """`zero_downtime_settle` is used as given, whatever the proxies say."""
    model, files = _model(tmp_path, {"caddy": "reverse_proxy api:8000"})
    assert settle(model, ["api"], 7.5, files.get).seconds == 7.5


def test_nginx_resolver_in_another_file_of_the_same_service(tmp_path: Path) -> None:
    """nginx.conf holds the resolver, conf.d/site.conf the upstream: read together."""
    (tmp_path / "conf.d").mkdir()
    mounts = (
        ServiceMount("bind", "/etc/nginx/nginx.conf", str(tmp_path / "nginx.conf")),
        ServiceMount("bind", "/etc/nginx/conf.d", str(tmp_path / "conf.d")),
    )
    (tmp_path / "nginx.conf").write_text("http { resolver 127.0.0.11 valid=2s; }\n")
    (tmp_path / "conf.d" / "site.conf").write_text(NGINX_VARIABLE)
    model = ComposeModel(
        {"web": ServiceModel(name="web", image="nginx", builds=False, mounts=mounts)}
    )
    found = settle(model, ["api"], None, lambda path: path.read_text())
    assert found.seconds == 4.0


def test_the_matrix_proxies_settle_three_seconds(tmp_path: Path) -> None:
    """The matrix's three proxies together: nginx's valid=1s decides, as before (3 s)."""
    configs = {path.stem: path.read_text() for path in TEMPLATE_PROXY.iterdir()}
    model, files = _model(tmp_path, configs)
    assert settle(model, ["api"], None, files.get).seconds == 3.0
