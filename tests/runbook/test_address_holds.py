"""The free addresses below a reconnecting container, and the stand-ins' commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from jobs.commands.docker import import_image, kill_containers, run_stand_in
from jobs.runbook.stages.address_holds import _dynamic, free_below

CONTAINER = "0123456789ab" * 5 + "0123"


def network(*addresses: str, gateway: str | None = "172.18.0.1", **pool: Any) -> dict[str, Any]:
    """`docker network inspect` of a network on 172.18.0.0/16 with containers at `addresses`."""
    config = {"Subnet": "172.18.0.0/16", **pool}
    if gateway is not None:
        config["Gateway"] = gateway
    return {
        "IPAM": {"Config": [{"Subnet": "fd00::/64"}, config]},
        "Containers": {
            f"c{n}": {"IPv4Address": f"{address}/16", "IPv6Address": ""}
            for n, address in enumerate(addresses)
        },
    }


@pytest.mark.parametrize(
    ("inspect", "address", "expected"),
    [
        # none free below: it gets its own back
        (network("172.18.0.2", "172.18.0.3", "172.18.0.4"), "172.18.0.4", []),
        # an orphan at .3 removed, and the new container's start address .5 freed by its join
        (
            network("172.18.0.2", "172.18.0.4", "172.18.0.6", "172.18.0.7"),
            "172.18.0.7",
            ["172.18.0.3", "172.18.0.5"],
        ),
        # above it is none of its business
        (network("172.18.0.2", "172.18.0.3", "172.18.0.9"), "172.18.0.3", []),
        # no gateway in the inspect: Docker's is the first host
        (network("172.18.0.2", "172.18.0.4", gateway=None), "172.18.0.4", ["172.18.0.3"]),
        # a gateway elsewhere frees .1; auxiliary addresses are taken
        (
            network(
                "172.18.0.4",
                gateway="172.18.0.254",
                AuxiliaryAddresses={"router": "172.18.0.2"},
            ),
            "172.18.0.4",
            ["172.18.0.1", "172.18.0.3"],
        ),
        # an address outside every pool: nothing known to hold
        (network("172.18.0.2"), "10.0.0.7", []),
        # a /8: only what lies below it is looked at
        (
            {
                "IPAM": {"Config": [{"Subnet": "10.0.0.0/8", "Gateway": "10.0.0.1"}]},
                "Containers": {"a": {"IPv4Address": "10.0.0.3/8"}},
            },
            "10.0.0.5",
            ["10.0.0.2", "10.0.0.4"],
        ),
        # no IPAM section at all
        ({"Containers": {}}, "172.18.0.7", []),
    ],
)
def test_free_below_lists_only_free_addresses_under_the_container(
    inspect: dict[str, Any], address: str, expected: list[str]
) -> None:
    """Free = in the container's pool, below its address, not the gateway, not reserved, not
    any endpoint's."""
    assert free_below(inspect, address) == expected


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            run_stand_in("crm_default", "deployhook-stand-in:0123abcd4567", "crm", "dh.stand-in"),
            [
                "docker", "run", "--detach", "--rm", "--network", "crm_default",
                "--label", "dh.stand-in=crm", "--user", "65534:65534", "--cap-drop", "ALL",
                "--security-opt", "no-new-privileges", "--read-only", "--log-driver", "none",
                "--", "deployhook-stand-in:0123abcd4567",
            ],
        ),
        (
            kill_containers([CONTAINER, CONTAINER[:12]]),
            ["docker", "kill", CONTAINER, CONTAINER[:12]],
        ),
        (
            import_image(Path("/tmp/s/stand-in.tar"), "deployhook-stand-in:ab",
                         ["/busybox", "sleep", "9"]),
            [
                "docker", "image", "import", "--change", 'ENTRYPOINT ["/busybox", "sleep", "9"]',
                "--message", "deployhook: holds a network address", "/tmp/s/stand-in.tar",
                "deployhook-stand-in:ab",
            ],
        ),
    ],
)  # fmt: skip
def test_stand_in_commands_exact_argv(argv: list[str], expected: list[str]) -> None:
    """The stand-in's run, kill and image import, exactly."""
    assert argv == expected


@pytest.mark.parametrize(
    ("network_name", "project"), [("crm default", "crm"), ("crm_default", "crm;rm")]
)
def test_stand_in_run_refuses_odd_names(network_name: str, project: str) -> None:
    """A network or project name that is not one is refused, never passed on."""
    with pytest.raises(ValueError):
        run_stand_in(network_name, "img", project, "label")


def test_stand_in_kill_takes_only_container_ids() -> None:
    """Only container ids are killed."""
    with pytest.raises(ValueError):
        kill_containers([CONTAINER, "api"])


@pytest.mark.parametrize(
    ("program", "dynamic"),
    [("/usr/bin/busybox", False), (sys.executable, True), ("/bin/sh", True)],
)
def test_only_a_static_binary_can_be_a_stand_in(program: str, dynamic: bool) -> None:
    """A binary that names a loader (PT_INTERP) needs a libc the stand-in image has not; the
    Debian busybox-static's does not; a script is no ELF at all."""
    head = Path(program).resolve().read_bytes()[:4096]
    assert _dynamic(head) is dynamic
    assert _dynamic(b"#!/bin/sh\nexec sleep 9\n") is True
