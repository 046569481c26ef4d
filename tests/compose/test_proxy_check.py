"""Proxy configs that would not follow a zero-downtime swap are named, with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs.compose.model import ComposeModel, ServiceModel, ServiceMount
from jobs.compose.proxy_check import config_files, problems, warnings
from tests.compose.test_zero_downtime import ENVIRONMENT
from webhook.cli import main

TEMPLATE_PROXY = Path(__file__).resolve().parents[1] / "zdt_app" / "proxy"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("location / { proxy_pass http://api:8000; }", ["`proxy_pass http://api:8000` resolves"]),
        ("location / { proxy_pass http://api; }", ["`proxy_pass http://api:80` resolves"]),
        ("upstream app { server api:8000; }\nserver { location / { proxy_pass http://app; } }",
         ["`upstream { server api:8000; }` resolves"]),
        ("upstream app { zone z 64k; server api:8000 resolve; }", []),
        ("location / { proxy_pass http://static:80; }", []),
        ("resolver 127.0.0.11 valid=1s;\n# proxy_pass http://api:8000;\n"
         "location / { set $a http://api:8000; proxy_pass $a; }", []),
        ("resolver 127.0.0.11;\nlocation / { set $a http://api:8000; proxy_pass $a; }",
         ["`set $... http://api:8000` with a `resolver` without `valid=` keeps"]),
        ("location / { set $a http://api:8000; proxy_pass $a; }",
         ["`set $... http://api:8000` with no `resolver` cannot resolve it"]),
        ("reverse_proxy api:8000", []),
        ("reverse_proxy { dynamic a { name api\n port 8000 } }", ["`dynamic a` for api"]),
        ("reverse_proxy { dynamic a api 8000\n }", ["`dynamic a` for api"]),
        ("reverse_proxy { dynamic a { name api\n port 8000\n refresh 1s } }", []),
    ],
)  # fmt: skip
def test_problems_name_what_resolves_once(text: str, expected: list[str]) -> None:
    """Each setting that keeps a zero-downtime service's old address is named, and no other."""
    found = problems(text, {"api"})
    assert [line[: len(want)] for line, want in zip(found, expected, strict=False)] == expected
    assert len(found) == len(expected), found
    assert all("fix:" in line for line in found)


def test_the_matrix_proxies_pass() -> None:
    """The configs the zero-downtime matrix proves raise no warning."""
    for path in TEMPLATE_PROXY.iterdir():
        assert problems(path.read_text(), {"api"}) == [], path


def test_config_files_are_the_bind_mounted_proxy_configs(tmp_path: Path) -> None:
    """A mounted file, or the *.conf and Caddyfile in a mounted directory; nothing else."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "site.conf").write_text("")
    (tmp_path / "conf.d" / "README").write_text("")
    (tmp_path / "Caddyfile").write_text("")
    mounts = (
        ServiceMount("bind", "/etc/nginx/conf.d", str(tmp_path / "conf.d")),
        ServiceMount("bind", "/etc/caddy/Caddyfile", str(tmp_path / "Caddyfile")),
        ServiceMount("volume", "/data", "data"),
    )
    assert config_files(mounts) == [tmp_path / "conf.d" / "site.conf", tmp_path / "Caddyfile"]
    model = ComposeModel(
        {"web": ServiceModel(name="web", image="nginx", builds=False, mounts=mounts[:1])}
    )
    nginx = {tmp_path / "conf.d" / "site.conf": "proxy_pass http://api:8000;"}
    [line] = warnings(model, ["api"], nginx.get)
    assert line.startswith(f"service web ({tmp_path / 'conf.d' / 'site.conf'}): `proxy_pass")


def test_resolver_in_another_file_of_the_service_counts(tmp_path: Path) -> None:
    """nginx.conf holds the resolver, conf.d/site.conf the variable upstream: no warning."""
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "nginx.conf").write_text("http { resolver 127.0.0.11 valid=1s; }\n")
    (tmp_path / "conf.d" / "site.conf").write_text("set $a http://api:8000; proxy_pass $a;\n")
    mounts = (
        ServiceMount("bind", "/etc/nginx/nginx.conf", str(tmp_path / "nginx.conf")),
        ServiceMount("bind", "/etc/nginx/conf.d", str(tmp_path / "conf.d")),
    )
    model = ComposeModel(
        {"web": ServiceModel(name="web", image="nginx", builds=False, mounts=mounts)}
    )
    assert warnings(model, ["api"], lambda path: path.read_text()) == []
    (tmp_path / "nginx.conf").write_text("http { resolver 127.0.0.11; }\n")
    [line] = warnings(model, ["api"], lambda path: path.read_text())
    assert "keeps Docker's answers for their 600 s TTL" in line, line


def test_check_config_warns_of_nginx_resolving_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config names the proxy, the file, the line and the fix; it does not fail on it."""
    checkout = tmp_path / "crm"
    checkout.mkdir()
    (checkout / "nginx.conf").write_text("location / { proxy_pass http://api:8000; }\n")
    services = {
        "api": {"image": "acme/api", "healthcheck": {"test": ["CMD", "true"]}},
        "proxy": {"image": "nginx", "volumes": ["./nginx.conf:/etc/nginx/conf.d/default.conf:ro"]},
    }
    (checkout / "compose.yml").write_text(yaml.safe_dump({"services": services}))
    config = tmp_path / "deployhook.yml"
    config.write_text(ENVIRONMENT.replace("PATH", str(checkout)))
    assert main(["check-config", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert (
        f"warning: projects/crm/environments/dev: zero_downtime: service proxy "
        f"({checkout / 'nginx.conf'}): `proxy_pass http://api:8000` resolves api once"
    ) in err
    assert "resolver 127.0.0.11 valid=1s" in err
