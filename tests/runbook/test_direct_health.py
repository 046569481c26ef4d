"""Reading a release on its own containers while the old ones drain: where the worker can reach
a container directly, and the URL it reads there (the configuration that turns it on:
tests/compose/test_zero_downtime.py)."""

from __future__ import annotations

import pytest

from jobs.runbook.stages.direct_health import Network, Unreachable, direct_url, reach

BRIDGE = "br-0123456789ab"
ON_BRIDGE = [Network(BRIDGE, "172.18.0.5")]


@pytest.mark.parametrize(
    ("docker_host", "interfaces", "networks", "expected"),
    [
        (None, {"lo", BRIDGE}, ON_BRIDGE, "172.18.0.5"),
        ("unix:///run/docker.sock", {BRIDGE}, ON_BRIDGE, "172.18.0.5"),
        # the second network's bridge is here; the first's is not
        (
            None,
            {"br-bbbbbbbbbbbb"},
            [*ON_BRIDGE, Network("br-bbbbbbbbbbbb", "10.0.0.2")],
            "10.0.0.2",
        ),
        (None, {"custom0"}, [Network("custom0", "10.9.0.3")], "10.9.0.3"),  # a named bridge
    ],
)
def test_reach_finds_the_address_on_a_local_bridge(
    docker_host: str | None, interfaces: set[str], networks: list[Network], expected: str
) -> None:
    """A container on a bridge of the worker's own network stack is read at its address."""
    assert reach(docker_host, interfaces, networks) == expected


@pytest.mark.parametrize(
    ("docker_host", "interfaces", "networks", "why"),
    [
        ("ssh://deploy@db1", {BRIDGE}, ON_BRIDGE, "over ssh://"),  # same id, another host
        ("tcp://10.0.0.1:2376", {BRIDGE}, ON_BRIDGE, "over tcp://"),
        (
            None,
            {"lo", "eth0"},
            ON_BRIDGE,
            f"no bridge of its networks ({BRIDGE})",
        ),  # in a container
        (None, {BRIDGE}, [Network(BRIDGE, "")], "no bridge"),  # no IPv4 address
        (None, {"lo"}, [Network("", "10.0.0.9")], "(none)"),  # not a bridge network (overlay)
    ],
)
def test_reach_refuses_what_may_not_be_that_container(
    docker_host: str | None, interfaces: set[str], networks: list[Network], why: str
) -> None:
    """A remote engine or a bridge that is not here: never an address that may be another's."""
    with pytest.raises(Unreachable) as caught:
        reach(docker_host, interfaces, networks)
    assert why in str(caught.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/healthz", "http://172.18.0.5:8000/healthz"),
        (
            "https://shop.example.com/api/v1/health?deep=1",
            "http://172.18.0.5:8000/api/v1/health?deep=1",
        ),
        ("http://127.0.0.1:8080", "http://172.18.0.5:8000/"),
    ],
)
def test_direct_url_keeps_path_and_query(url: str, expected: str) -> None:
    """The health URL's path and query, at the container's address and port, over HTTP."""
    assert direct_url(url, "172.18.0.5", 8000) == expected
