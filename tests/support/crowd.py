"""A crowd on a running intake: live-log watchers and clients trickling a body, over raw sockets.

Used by the web-tier test and by bench/webtier: both connect the crowd, then time signed
pushes while it stays connected.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from tests.support.users import TOKENS

TRICKLE_SECONDS = 0.5  # one byte per slow upload this often: never idle, never finished


def open_watcher(port: int, deploy_id: str) -> socket.socket:
    """A viewer following a deploy's live log: the request is sent, the stream left open."""
    watcher = socket.create_connection(("127.0.0.1", port), timeout=10)
    path = f"/deploys/{deploy_id}/log/stream"
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
    watcher.sendall(f"{head}Authorization: Bearer {TOKENS['viewer']}\r\n\r\n".encode())
    return watcher


def open_slow_upload(port: int, project: str = "crm") -> socket.socket:
    """A client that announces a 64 KB body and sends its first byte."""
    upload = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = (
        f"POST /hooks/{project} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Event: push\r\n"
        "Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n{"
    )
    upload.sendall(head.encode())
    return upload


def status_line(connection: socket.socket, timeout: float) -> str:
    """The first line the server answered on `connection` ("" if it closed without one)."""
    connection.settimeout(timeout)
    try:
        data = connection.recv(4096)
    except OSError:
        return ""
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


@contextmanager
def crowd(port: int, deploy_id: str, watchers: int, uploads: int) -> Iterator[list[socket.socket]]:
    """Keep `watchers` streams and `uploads` trickling bodies connected; yields the uploads."""
    with ExitStack() as stack:
        streams = [open_watcher(port, deploy_id) for _ in range(watchers)]
        slow = [open_slow_upload(port) for _ in range(uploads)]
        for connection in (*streams, *slow):
            stack.callback(connection.close)
        stop = threading.Event()
        trickler = threading.Thread(target=_trickle, args=(slow, stop), daemon=True)
        trickler.start()
        stack.callback(trickler.join)
        stack.callback(stop.set)
        time.sleep(0.5)  # let the server take every connection before the caller measures
        yield slow


def _trickle(uploads: list[socket.socket], stop: threading.Event) -> None:
    while not stop.wait(TRICKLE_SECONDS):
        for upload in uploads:
            with contextlib.suppress(OSError):  # the server gave up on it (408): the point
                upload.send(b" ")
