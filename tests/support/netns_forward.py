"""TCP forwarding between network namespaces, for the swarm bed (run as its own process).

Each rule `LISTEN_NS:PORT=TARGET_NS:HOST:PORT` listens on 127.0.0.1:PORT inside LISTEN_NS and
connects each accepted connection to HOST:PORT inside TARGET_NS; `-` names the namespace this
process started in (the test's own). A listening socket stays in the namespace it was bound
in, and a socket is made in the namespace of the thread that makes it, so every listener is
bound first (entering each namespace in turn) and each connection's thread enters its target
namespace before it dials. Traffic stays on loopback and inside the bed's own namespaces.

    python -m tests.support.netns_forward [--log FILE] RULE... ; prints `ready` once every
    listener is bound; with --log, appends each accepted connection's listening port to FILE
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL(None, use_errno=True)


def enter(namespace: str, own: int) -> None:
    """Move the calling thread into `namespace` (a name under /var/run/netns, or `-`)."""
    if namespace == "-":
        fd, close = own, False
    else:
        fd, close = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY), True
    try:
        if _LIBC.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns {namespace}: {os.strerror(error)}")
    finally:
        if close:
            os.close(fd)


def pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock, how in ((sink, socket.SHUT_WR), (source, socket.SHUT_RD)):
            with contextlib.suppress(OSError):
                sock.shutdown(how)


def serve_one(client: socket.socket, target: tuple[str, str, int], own: int) -> None:
    namespace, host, port = target
    enter(namespace, own)
    try:
        upstream = socket.create_connection((host, port), timeout=10)
    except OSError:
        client.close()  # refused or unreachable: the client sees its connection closed
        return
    upstream.settimeout(None)
    back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    back.start()
    pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def accept_loop(
    listener: socket.socket, target: tuple[str, str, int], own: int, log: str | None
) -> None:
    port = listener.getsockname()[1]
    while True:
        client, _ = listener.accept()
        if log is not None:
            with open(log, "a") as accepted:
                accepted.write(f"{port}\n")
        threading.Thread(target=serve_one, args=(client, target, own), daemon=True).start()


def parse(rule: str) -> tuple[str, int, tuple[str, str, int]]:
    listen, target = rule.split("=", 1)
    listen_ns, listen_port = listen.rsplit(":", 1)
    target_ns, host, port = target.split(":")
    return listen_ns, int(listen_port), (target_ns, host, int(port))


def main(rules: list[str]) -> None:
    log = None
    if rules[:1] == ["--log"]:
        log, rules = rules[1], rules[2:]
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    listeners = []
    for rule in rules:
        listen_ns, port, target = parse(rule)
        enter(listen_ns, own)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(512)
        listeners.append((listener, target))
    enter("-", own)
    threads = [
        threading.Thread(target=accept_loop, args=(listener, target, own, log), daemon=True)
        for listener, target in listeners
    ]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(sys.argv[1:])
