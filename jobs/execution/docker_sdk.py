"""The Docker SDK client for an environment's engine, and what to say when it cannot connect.

The engine is the environment's docker_host (unix://, ssh:// through the ssh binary, or tcp://
with docker_tls's certificates), else the worker's own. The SDK asks the engine for its API
version as it starts, so an engine that is down, or refuses this client, fails right here:
`unreachable` turns the SDK's nested error text into one line that names the cause first.
"""

from __future__ import annotations

import re
from typing import Any

import docker
import docker.errors
import docker.tls

from config import Environment
from jobs.failures.errors import StageFailed

# `[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:2580)` -> its words.
SSL_REASON = re.compile(r"\[SSL: (?P<code>[A-Z0-9_]+)\] (?P<text>[^(')\]]+?)\s*(\(_ssl|'|\)|$)")
# The engine's answer to a client certificate it does not accept (TLS alerts, in OpenSSL's words).
REFUSED_CLIENT = ("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_REQUIRED", "ACCESS_DENIED")
# With TLS 1.3 the client's handshake ends before the engine judges its certificate: the alert
# may be lost, and the client then sees the connection end or be reset instead.
SILENT_REFUSAL = ("SSLEOFError", "EOF occurred in violation of protocol", "ConnectionResetError")
# Short enough that the cause and the fix fit the reports' 140 characters with the host.
CERT_FIX = "sign docker_tls cert.pem with the engine's CA"


class _EngineCaApi(docker.APIClient):  # type: ignore[misc]
    """The SDK's API client, verifying the engine with docker_tls's ca.pem and nothing else.

    requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, when set, replace the CA a session was
    given (psf/requests#3829): on such a worker every TLS engine would fail verification, its
    CA being no public one.
    """

    def merge_environment_settings(self, *args: Any) -> dict[str, Any]:
        settings: dict[str, Any] = super().merge_environment_settings(*args)
        settings["verify"] = self.verify
        return settings


class _TlsClient(docker.DockerClient):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        self.api = _EngineCaApi(**kwargs)


def docker_client(environment: Environment) -> Any:
    """The SDK client for the environment's daemon: its docker_host, else the worker's own.

    Raises StageFailed (stage `docker`; a deploy's stage renames it) when the engine does not
    answer or refuses this client, saying why in one line.
    """
    host = environment.docker_host
    try:
        if host is None:
            return docker.from_env(timeout=120)
        if environment.docker_tls is not None:
            certs = environment.docker_tls.cert_path
            tls = docker.tls.TLSConfig(
                client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
                ca_cert=str(certs / "ca.pem"),
                verify=True,
            )
            return _TlsClient(base_url=host, timeout=120, tls=tls)
        # use_ssh_client: the ssh binary, so ~/.ssh/config and known_hosts apply as for `docker`.
        # It opens one ssh session per API call: docs/swarm.md advises ssh multiplexing.
        return docker.DockerClient(base_url=host, timeout=120, use_ssh_client=True)
    except docker.errors.DockerException as error:
        tls = environment.docker_tls is not None
        raise StageFailed("docker", unreachable(host or "DOCKER_HOST", str(error), tls)) from None


def unreachable(host: str, error: str, tls: bool = False) -> str:
    """One line for an engine the SDK could not reach: the cause first, then the fix; pure.

    `tls`: the client presented a certificate (docker_tls).
    """
    found = SSL_REASON.search(error)
    refused = f"the Docker engine at {host} refused this client's TLS certificate: {CERT_FIX}"
    if found is None:
        if tls and any(silent in error for silent in SILENT_REFUSAL):
            return refused
        detail = " ".join(error.split())
        return f"the Docker engine at {host} did not answer: {detail}"
    code, text = found["code"], found["text"].strip()
    if any(code.endswith(alert) for alert in REFUSED_CLIENT):
        return refused
    if code == "CERTIFICATE_VERIFY_FAILED":
        return (
            f"the Docker engine's TLS certificate at {host} did not verify ({text}): "
            "docker_tls ca.pem must have signed it, for the address in docker_host"
        )
    return f"the TLS handshake with the Docker engine at {host} failed ({text})"
