"""The SDK client for a docker_host at tcp:// with docker_tls, against a real TLS server on
loopback that requires client certificates (what `dockerd --tlsverify` does) and answers the
SDK's first question (GET /version); and the one line said when an engine refuses us."""

from __future__ import annotations

import http.server
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import Environment
from jobs.execution.docker_sdk import docker_client, unreachable
from jobs.failures.errors import StageFailed
from tests.support import tls_certs
from tests.support.http_thread import in_thread

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
REFUSED = (
    "the Docker engine at tcp://h:1 refused this client's TLS certificate: sign docker_tls "
    "cert.pem with the engine's CA"
)


class _Version(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"ApiVersion": "1.45", "Version": "28.2.2"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The engine's CA and certificate; a client it signed, one another CA signed, and a
    client that trusts another CA than the one that signed the engine's certificate."""
    root = tmp_path_factory.mktemp("tls")
    ca = tls_certs.authority(root / "ca", "engine CA")
    other = tls_certs.authority(root / "other", "another CA")
    tls_certs.server_certificate(ca, root / "engine", ["127.0.0.1"])
    return {
        "engine": root / "engine",
        "ca": ca.ca_pem,
        "client": tls_certs.client_directory(ca, ca, root / "client", "deployhook"),
        "stranger": tls_certs.client_directory(other, ca, root / "stranger", "deployhook"),
        "misled": tls_certs.client_directory(ca, other, root / "misled", "deployhook"),
    }


@pytest.fixture(scope="module")
def engine(certs: dict[str, Path]) -> Iterator[str]:
    """tcp://127.0.0.1:P of an HTTPS server that requires a client certificate of its CA."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Version)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs["engine"] / "server-cert.pem", certs["engine"] / "server-key.pem")
    context.load_verify_locations(certs["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with in_thread(server):
        yield f"tcp://127.0.0.1:{server.server_port}"


def _environment(host: str, cert_path: Path) -> Environment:
    return Environment.model_validate(
        {
            "trigger": {"branch": "main"},
            "path": "/srv/app",
            "compose": {"files": ["compose.yml"], "project": "app"},
            "health": {"url": "http://127.0.0.1:9/"},
            "docker_host": host,
            "docker_tls": {"cert_path": str(cert_path)},
        }
    )


def test_the_engine_s_own_ca_is_used_even_with_requests_ca_bundle_set(
    engine: str, certs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE naming the public bundle (which would replace
    a session's CA in requests), the client still verifies the engine with docker_tls's CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)
    monkeypatch.setenv("CURL_CA_BUNDLE", SYSTEM_BUNDLE)
    client = docker_client(_environment(engine, certs["client"]))
    try:
        assert client.api.api_version == "1.45"
        assert client.version()["Version"] == "28.2.2"
    finally:
        client.close()


def test_a_client_certificate_the_engine_s_ca_never_signed_is_refused_in_one_line(
    engine: str, certs: dict[str, Path]
) -> None:
    """The engine refuses a client certificate of another CA: StageFailed naming the engine,
    the refusal and the fix, not the SDK's nested connection-pool text."""
    with pytest.raises(StageFailed) as raised:
        docker_client(_environment(engine, certs["stranger"]))
    # The same whether the alert arrives or (TLS 1.3, lost in a race) the connection just ends.
    assert raised.value.failure.summary == (
        f"the Docker engine at {engine} refused this client's TLS certificate: sign docker_tls "
        "cert.pem with the engine's CA"
    )


def test_an_engine_certificate_another_ca_signed_does_not_verify(
    engine: str, certs: dict[str, Path]
) -> None:
    """A ca.pem that did not sign the engine's certificate: the client stops, saying so."""
    with pytest.raises(StageFailed) as raised:
        docker_client(_environment(engine, certs["misled"]))
    summary = raised.value.failure.summary
    assert summary.startswith("the Docker engine's TLS certificate at "), summary
    assert "did not verify" in summary


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            "Error while fetching server API version: HTTPSConnectionPool(host='h', port=1): Max"
            " retries exceeded with url: /version (Caused by SSLError(SSLError(1, '[SSL: "
            "TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:2580)')))",
            REFUSED,
        ),
        (
            "... (Caused by SSLError(SSLError(1, '[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert "
            "bad certificate (_ssl.c:2580)')))",
            REFUSED,
        ),
        (
            "... (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED]"
            " certificate verify failed: self-signed certificate in certificate chain "
            "(_ssl.c:1006)')))",
            "the Docker engine's TLS certificate at tcp://h:1 did not verify (certificate verify "
            "failed: self-signed certificate in certificate chain): docker_tls ca.pem must have "
            "signed it, for the address in docker_host",
        ),
        (
            "... (Caused by SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version "
            "number (_ssl.c:1006)')))",
            "the TLS handshake with the Docker engine at tcp://h:1 failed (wrong version number)",
        ),
        (
            "Error while fetching server API version: ('Connection aborted.',\n  "
            "ConnectionRefusedError(111, 'Connection refused'))",
            "the Docker engine at tcp://h:1 did not answer: Error while fetching server API "
            "version: ('Connection aborted.', ConnectionRefusedError(111, 'Connection refused'))",
        ),
    ],
)
def test_unreachable_names_the_cause_first(error: str, expected: str) -> None:
    """The SDK's nested error text becomes one line: what the engine did, then the fix."""
    assert unreachable("tcp://h:1", error) == expected


@pytest.mark.parametrize(
    "error",
    [
        "... (Caused by SSLError(SSLEOFError(8, 'EOF occurred in violation of protocol "
        "(_ssl.c:2427)')))",
        "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
    ],
)
def test_a_tls_connection_that_ends_without_an_alert_names_the_certificate(error: str) -> None:
    """With a client certificate, an engine that ends or resets the connection (its alert lost,
    TLS 1.3) is said to refuse the certificate; without one, the SDK's words are kept."""
    assert unreachable("tcp://h:1", error, tls=True) == REFUSED
    assert unreachable("ssh://h", error).startswith("the Docker engine at ssh://h did not answer: ")
