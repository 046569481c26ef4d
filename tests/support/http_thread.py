"""Run any socketserver-style HTTP server on 127.0.0.1 in a background thread for one test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class LoopbackServer(Protocol):
    server_port: int

    def serve_forever(self, poll_interval: float = ...) -> None: ...

    def shutdown(self) -> None: ...


@contextmanager
def in_thread(server: LoopbackServer) -> Iterator[str]:
    """Serve until the block ends; yield the base URL (http://127.0.0.1:<port>)."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
