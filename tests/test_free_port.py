"""The test beds' free ports."""

from __future__ import annotations

from tests.support.web import free_port


def test_free_port_never_hands_out_a_port_twice() -> None:
    """A bed asking for two ports (an api and its database) gets two: the kernel offers a just
    released port again (about 1 in 100 probes did), which gave a stack both on one port."""
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
