"""Tokens and TLS on all three ports of one real backend, reached by the OpenTelemetry SDK's own OTLP
exporters, raw clients, the CLI, `tracehouse.connect` and the UI's sign-in flow."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from urllib.parse import quote

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from tests.backend.conftest import PYTHON, clean_env, wait_for
from tests.backend.otlp_requests import JSON, PROTOBUF, fbaas_request
from tests.backend.sdk import emit_traces, provider

import tracehouse

from .conftest import INGEST_TOKEN, QUERY_TOKEN, SecureBackend, SecureBackendFactory

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
ROTATED = "ingest-rotated-0000"  # the second line of the ingest token file


@pytest.fixture(scope="module")
def guarded(secure_backends: SecureBackendFactory) -> Iterator[SecureBackend]:
    backend = secure_backends(tls=True, ingest=INGEST_TOKEN, query=QUERY_TOKEN)
    yield backend
    assert backend.alive(), "the backend died during the tests"
    assert "Traceback" not in backend.log(), backend.log()[-3000:]
    assert backend.stop() == 0


def test_the_run_file_names_https_and_the_files_never_the_tokens(guarded: SecureBackend) -> None:
    assert guarded.query_url.startswith("https://") and guarded.traces_url.startswith("https://")
    text = (guarded.data_dir / "server.json").read_text()
    assert INGEST_TOKEN not in text and QUERY_TOKEN not in text
    assert guarded.info["tls_cert_file"] == str(guarded.certificate.cert) if guarded.certificate else False
    assert INGEST_TOKEN not in guarded.log() and QUERY_TOKEN not in guarded.log()


# ---- OTLP/HTTP

def _status(response: httpx.Response) -> status_pb2.Status:
    status = status_pb2.Status()
    if response.headers["content-type"].startswith(JSON):
        json_format.Parse(response.text, status)
    else:
        status.ParseFromString(response.content)
    return status


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_http_ingest_needs_an_ingest_token(guarded: SecureBackend, content_type: str) -> None:
    refused = fbaas_request(1)
    body = refused.protobuf() if content_type == PROTOBUF else refused.json()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {QUERY_TOKEN}"},
                    {"Authorization": INGEST_TOKEN}, {"Authorization": f"Basic {INGEST_TOKEN}"}):
        response = guarded.post_traces(body, headers, content_type)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        status = _status(response)
        assert status.code == 16 and "bearer token" in status.message  # UNAUTHENTICATED
    accepted = fbaas_request(1)
    for token in (INGEST_TOKEN, ROTATED):
        for scheme in ("Bearer", "bearer"):
            built = fbaas_request(1)
            body = built.protobuf() if content_type == PROTOBUF else built.json()
            response = guarded.post_traces(body, {"Authorization": f"{scheme} {token}"}, content_type)
            assert response.status_code == 200, response.text
            accepted.span_ids.extend(built.span_ids)
    guarded.send(fbaas_request(1))
    guarded.wait_stored(accepted.span_ids[len(refused.span_ids):])
    assert guarded.stored(refused.span_ids) == set()


def test_plain_http_to_a_tls_port_gets_nothing(guarded: SecureBackend) -> None:
    for url in (guarded.traces_url, f"{guarded.query_url}/api/services"):
        with pytest.raises(httpx.HTTPError):
            httpx.post(url.replace("https://", "http://"), content=b"{}", timeout=10,
                       headers={"Content-Type": JSON, "Authorization": f"Bearer {INGEST_TOKEN}"})
    # And a client that does not trust the certificate refuses it.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{guarded.query_url}/healthz", timeout=10)


# ---- OTLP/gRPC

def _secure_channel(backend: SecureBackend) -> grpc.Channel:
    assert backend.certificate is not None
    credentials = grpc.ssl_channel_credentials(root_certificates=backend.certificate.cert.read_bytes())
    return grpc.secure_channel(backend.otlp_grpc.replace("127.0.0.1", "localhost"), credentials)


def test_grpc_ingest_needs_an_ingest_token(guarded: SecureBackend) -> None:
    refused, accepted = fbaas_request(1), fbaas_request(1)
    with _secure_channel(guarded) as channel:
        call = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        for metadata in ((), (("authorization", "Bearer nope"),), (("authorization", f"Bearer {QUERY_TOKEN}"),)):
            with pytest.raises(grpc.RpcError) as info:
                call(refused.protobuf(), timeout=30, metadata=metadata)
            error = info.value
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error  # type: ignore[attr-defined]
            assert "bearer token" in error.details()  # type: ignore[attr-defined]
        reply = call(accepted.protobuf(), timeout=30, metadata=(("authorization", f"Bearer {INGEST_TOKEN}"),))
        assert ExportTraceServiceResponse.FromString(reply).partial_success.rejected_spans == 0
    with grpc.insecure_channel(guarded.otlp_grpc) as plain:
        with pytest.raises(grpc.RpcError) as info:
            plain.unary_unary(METHOD, request_serializer=None, response_deserializer=None)(
                accepted.protobuf(), timeout=10, metadata=(("authorization", f"Bearer {INGEST_TOKEN}"),))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    guarded.wait_stored(accepted.span_ids)
    assert guarded.stored(refused.span_ids) == set()


# ---- The SDK's exporters, as users configure them

@pytest.fixture
def no_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests (under the OTLP/HTTP exporter) lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override the
    exporter's certificate_file; this machine sets them, most users' do not."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_ca_bundle")
def test_the_sdk_exporters_work_with_tls_and_tokens(guarded: SecureBackend) -> None:
    assert guarded.certificate is not None
    cert = str(guarded.certificate.cert)
    auth = {"authorization": f"Bearer {INGEST_TOKEN}"}
    http = HttpExporter(endpoint=guarded.traces_url, certificate_file=cert, headers=auth, timeout=30)
    grpc_exporter = GrpcExporter(endpoint=guarded.otlp_grpc.replace("127.0.0.1", "localhost"), insecure=False,
                                 credentials=grpc.ssl_channel_credentials(guarded.certificate.cert.read_bytes()),
                                 headers=auth, timeout=30)
    ids: list[str] = []
    for exporter, name in ((http, "http-tls-client"), (grpc_exporter, "grpc-tls-client")):
        tp = provider(exporter, name)
        ids += emit_traces(tp, 40)
        assert tp.force_flush(60_000)
        tp.shutdown()
    guarded.wait_stored(ids)
    services = {r[0] for r in guarded.sql("SELECT DISTINCT service_name FROM spans")}
    assert {"http-tls-client", "grpc-tls-client"} <= services


@pytest.mark.usefixtures("no_ca_bundle")
def test_an_exporter_without_the_token_is_told_so(guarded: SecureBackend, caplog: pytest.LogCaptureFixture) -> None:
    assert guarded.certificate is not None
    exporter = HttpExporter(endpoint=guarded.traces_url, certificate_file=str(guarded.certificate.cert), timeout=10)
    tp = provider(exporter, "no-token-client")
    emit_traces(tp, 2)
    tp.force_flush(30_000)
    tp.shutdown()
    # 401 is not retryable: the exporter gives up at once and logs the backend's message.
    assert "code: 401" in caplog.text
    assert guarded.sql("SELECT count(*) FROM spans WHERE service_name = 'no-token-client'") == [[0]]


def test_the_grpc_exporter_with_the_env_headers_users_set(guarded: SecureBackend,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert guarded.certificate is not None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{INGEST_TOKEN}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(guarded.certificate.cert))
    exporter = GrpcExporter(endpoint=guarded.otlp_grpc.replace("127.0.0.1", "localhost"), insecure=False,
                            timeout=30)
    tp = provider(exporter, "env-configured")
    tracer = tp.get_tracer("t")
    with tracer.start_as_current_span("one"):
        pass
    assert tp.force_flush(30_000)
    tp.shutdown()
    wait_for(lambda: guarded.sql("SELECT count(*) FROM spans WHERE service_name = 'env-configured'") == [[1]],
             30, "the span sent with OTEL_EXPORTER_OTLP_HEADERS")


# ---- The Host check with tokens


def test_with_a_token_any_host_name_reaches_the_token_check(guarded: SecureBackend) -> None:
    """A DNS-rebinding page cannot present a token (nor the session cookie, which belongs to the real
    name), so a port that requires a token serves the names clients use (docker-compose service names,
    load balancers) without --allowed-hosts."""
    port = guarded.query_url.rsplit(":", 1)[1]
    with guarded.client() as c:
        for headers, status in (({}, 401), (guarded.query_headers(), 200)):
            response = c.get(f"{guarded.query_url}/api/services", headers={"Host": f"tracehouse:{port}", **headers})
            assert response.status_code == status, response.text
        built = fbaas_request(1)
        for headers, status in (({}, 401), (guarded.ingest_headers(), 200)):
            response = c.post(guarded.traces_url, content=built.protobuf(),
                              headers={"Host": "otel-gateway.internal", "Content-Type": PROTOBUF, **headers})
            assert response.status_code == status, response.text
    guarded.wait_stored(built.span_ids)


# ---- The query API

QUERY_ROUTES = [("GET", "/api/services"), ("GET", "/api/v3/services"), ("GET", "/api/traces?service=x"),
                ("GET", "/api/analyze"), ("GET", "/api/sql/catalog"), ("POST", "/api/sql"),
                ("GET", "/api/export/spans?since=1h"), ("GET", "/api/openapi.json"), ("GET", "/search"),
                ("GET", "/console"), ("GET", "/analyze/latency"), ("GET", "/api/docs")]


def test_the_query_api_needs_the_query_token(guarded: SecureBackend) -> None:
    with guarded.client() as c:
        for method, path in QUERY_ROUTES:
            body = {"sql": "SELECT 1"} if method == "POST" else None
            for headers in ({}, {"Authorization": f"Bearer {INGEST_TOKEN}"},
                            {"Cookie": f"tracehouse_session={QUERY_TOKEN}"}):
                response = c.request(method, guarded.query_url + path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.status_code)
                assert response.json()["kind"] == "unauthenticated"
                assert "x-frame-options" in response.headers
            ok = c.request(method, guarded.query_url + path, json=body, headers=guarded.query_headers())
            assert ok.status_code == 200, (method, path, ok.text[:300])
        health = c.get(f"{guarded.query_url}/healthz")
        assert health.json() == {"status": "ok"}  # public, and it names nothing


def test_the_ui_signs_in_with_a_cookie(guarded: SecureBackend) -> None:
    base = guarded.query_url
    origin = {"Origin": base}
    with guarded.client(follow_redirects=False) as c:
        page = c.get(f"{base}/console?x=1", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == f"/login?next={quote('/console?x=1', safe='')}"
        login = c.get(f"{base}/login", params={"next": '/console?x="><script>'})
        assert login.status_code == 200 and "<script>" not in login.text and 'name="token"' in login.text
        wrong = c.post(f"{base}/login", data={"token": "nope", "next": "/console"}, headers=origin)
        assert wrong.status_code == 401 and "not accepted" in wrong.text
        assert "set-cookie" not in wrong.headers
        cross = c.post(f"{base}/login", data={"token": QUERY_TOKEN}, headers={"Origin": "https://attacker.example"})
        assert cross.status_code == 403
        signed = c.post(f"{base}/login", data={"token": QUERY_TOKEN, "next": "/console"}, headers=origin)
        assert signed.status_code == 303 and signed.headers["location"] == "/console"
        cookie = signed.headers["set-cookie"]
        for attribute in ("HttpOnly", "SameSite=strict", "Secure", "Path=/"):
            assert attribute.lower() in cookie.lower(), cookie
        assert QUERY_TOKEN not in cookie
        # Never an open redirect.
        away = c.post(f"{base}/login", data={"token": QUERY_TOKEN, "next": "//attacker.example/"}, headers=origin)
        assert away.headers["location"] == "/search"
    session = {"tracehouse_session": signed.cookies["tracehouse_session"]}
    with guarded.client(cookies=session) as c:
        assert c.get(f"{base}/console").status_code == 200
        assert c.get(f"{base}/api/services").status_code == 200
        sql = {"sql": "SELECT 42"}
        assert c.post(f"{base}/api/sql", json=sql, headers=origin).json()["rows"] == [[42]]
        assert c.post(f"{base}/api/sql", json=sql, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
        # Cross-site request forgery: another site's page, or no sign of where the request came from.
        for headers in ({"Origin": "https://attacker.example"}, {"Origin": "null"}, {},
                        {"Sec-Fetch-Site": "cross-site"}):
            forged = c.post(f"{base}/api/sql", json=sql, headers=headers)
            assert forged.status_code == 403, (headers, forged.text)
        out = c.post(f"{base}/logout", headers=origin, follow_redirects=False)
        assert out.status_code == 303 and 'tracehouse_session=""' in out.headers["set-cookie"]


# ---- Clients: the CLI and tracehouse.connect

def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "tracehouse", *args], capture_output=True, text=True, timeout=120,
                          env=clean_env(env), check=False)


def test_the_cli_sends_the_token(guarded: SecureBackend) -> None:
    assert guarded.certificate is not None
    guarded.send(fbaas_request(2))
    # Through the run file: the token file and certificate the backend was started with.
    local = _cli("sql", "--data", str(guarded.data_dir), "--format", "json", "SELECT 7 AS n")
    assert local.returncode == 0, local.stderr
    assert '"n": 7' in local.stdout
    # By URL: the token and certificate from the environment.
    env = {"TRACEHOUSE_QUERY_TOKEN": QUERY_TOKEN, "TRACEHOUSE_TLS_CERT": str(guarded.certificate.cert)}
    remote = _cli("sql", "--url", guarded.query_url, "--format", "csv", "SELECT 8 AS n", env=env)
    assert remote.returncode == 0 and remote.stdout.split() == ["n", "8"], remote.stderr
    for args in (("doctor", "--since", "1h"), ("analyze", "latency", "--since", "1h")):
        result = _cli(*args, "--url", guarded.query_url, "--format", "json", env=env)
        assert result.returncode == 0, (args, result.stderr)
    exported = _cli("export", "--url", guarded.query_url, "--since", "1h", "--parquet",
                    str(guarded.data_dir.parent / "export"), env=env)
    assert exported.returncode == 0 and "wrote" in exported.stdout, exported.stderr
    without = _cli("sql", "--url", guarded.query_url, "SELECT 1",
                   env={"TRACEHOUSE_TLS_CERT": str(guarded.certificate.cert)})
    assert without.returncode != 0 and "query token" in without.stderr, without.stderr


def test_connect_sends_the_token(guarded: SecureBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    assert guarded.certificate is not None
    for name in [k for k in os.environ if k.startswith("TRACEHOUSE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TRACEHOUSE_TLS_CERT", str(guarded.certificate.cert))
    with tracehouse.connect(guarded.query_url, token=QUERY_TOKEN) as th:
        assert th.sql("SELECT 5 AS n").arrow().to_pylist() == [{"n": 5}]
    monkeypatch.setenv("TRACEHOUSE_QUERY_TOKEN", QUERY_TOKEN)
    with tracehouse.connect(guarded.query_url) as th:
        assert len(th.sql("SELECT 1")) == 1
    monkeypatch.delenv("TRACEHOUSE_QUERY_TOKEN")
    with tracehouse.connect(guarded.query_url) as th, pytest.raises(RuntimeError, match="query token"):
        th.sql("SELECT 1")
