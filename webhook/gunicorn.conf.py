"""gunicorn settings for `deployhook serve` (or `gunicorn -c webhook/gunicorn.conf.py`).

Bind address and worker count come from the configuration's `server` section; the command
line's --bind/--workers override them. Requests are short (verify, enqueue, answer), so the
timeouts are tight, and access logs are off: the app writes one JSON line per delivery.
"""

import subprocess
import sys

from config import ConfigError, load_settings

try:
    _server = load_settings().server
except ConfigError as _error:
    print(_error, file=sys.stderr)
    sys.exit(1)

bind = [_server.bind]
workers = _server.workers
# gevent: each connection is a greenlet, not one of a few threads. A status page following a
# live log holds its connection for up to a minute and a client may trickle its body; with
# threads, 16 of either kept a signed push waiting 55 s. Now they cost memory, not capacity:
# live streams are bounded per worker (server.live_streams, 503 beyond) and bodies must
# arrive within server.body_timeout (408). Nothing in a request blocks outside gevent's
# reach: Redis and RQ go through patched sockets, and no request runs a subprocess.
worker_class = "gevent"
worker_connections = 1000
timeout = 30
graceful_timeout = 20
keepalive = 2
accesslog = None
errorlog = "-"
loglevel = "info"
# gunicorn's own lines (start, stop, worker timeouts) as JSON too, like the app's.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING", "handlers": []},
    "formatters": {"json": {"()": "webhook.logs.JsonFormatter"}},
    "handlers": {
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        },
    },
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
    },
}
proc_name = "deployhook-web"


_metrics: list[subprocess.Popen[bytes]] = []


def when_ready(server: object) -> None:
    """auth.metrics.bind: /metrics alone on a second address, served by a child process.

    A process of its own, not a thread here: what the master imports before the workers fork
    is not patched by gevent in them, and one blocking socket there stalls every request.
    """
    if load_settings().auth.metrics.bind is not None:
        argv = [sys.executable, "-m", "webhook.metrics_listener"]
        _metrics.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL))


def on_exit(server: object) -> None:
    for process in _metrics:
        process.terminate()
        process.wait(timeout=10)


# gunicorn >= 25 opens a control socket in $HOME by default; one per user would make two
# deployhook instances (or a test run beside a service) fight over it. Older versions ignore this.
control_socket_disable = True
# The proxy in front (Caddy, nginx) runs on the same host and sets X-Forwarded-*.
forwarded_allow_ips = "127.0.0.1,::1"
