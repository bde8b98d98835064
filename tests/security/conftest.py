"""Real backends with access control: tokens from files, TLS from a certificate the test makes itself.

`secure_backend(tls=..., ingest=..., query=...)` starts `tracehouse up` and knows how to talk to it (the
token headers, the certificate to trust), so each test states only what it checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.certificates import Certificate, make_certificate
from tests.backend.conftest import PYTHON, START_TIMEOUT, Backend, clean_env, wait_for
from tests.backend.otlp_requests import PROTOBUF, Built

INGEST_TOKEN = "ingest-" + "a1b2c3d4" * 4
QUERY_TOKEN = "query-" + "e5f6a7b8" * 4


@dataclass
class SecureBackend(Backend):
    """A backend (tests/backend's, for its URLs, log and liveness) that also knows its tokens and
    the certificate to trust."""

    certificate: Certificate | None = None
    ingest_token: str | None = None
    query_token: str | None = None

    @property
    def verify(self) -> Any:
        return self.certificate.context() if self.certificate else True

    def query_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.query_token}"} if self.query_token else {}

    def ingest_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.ingest_token}"} if self.ingest_token else {}

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(verify=self.verify, timeout=30.0, **kwargs)

    def post_traces(self, body: bytes, headers: dict[str, str] | None = None,
                    content_type: str = PROTOBUF) -> httpx.Response:
        with self.client() as c:
            return c.post(self.traces_url, content=body, headers={"Content-Type": content_type, **(headers or {})})

    def send(self, built: Built) -> None:
        response = self.post_traces(built.protobuf(), self.ingest_headers())
        assert response.status_code == 200, response.text

    def sql(self, query: str, params: Sequence[str | int] = ()) -> list[list[Any]]:
        with self.client(headers=self.query_headers()) as c:
            response = c.post(f"{self.query_url}/api/sql", json={"sql": query, "params": list(params)})
        assert response.status_code == 200, response.text
        return list(response.json()["rows"])

    def stored(self, span_ids: Sequence[str]) -> set[str]:
        query = "SELECT span_id FROM spans WHERE list_contains(string_split(?, ','), span_id)"
        return {row[0] for row in self.sql(query, [",".join(span_ids)])}

    def wait_stored(self, span_ids: Sequence[str], timeout: float = 30.0) -> None:
        wanted = set(span_ids)
        wait_for(lambda: self.stored(sorted(wanted)) == wanted, timeout, f"{len(wanted)} spans to be stored",
                 interval=0.1)

    def healthy(self) -> bool:
        try:
            with self.client() as c:
                return c.get(f"{self.query_url}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 30.0) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


class SecureBackendFactory:
    def __init__(self, base: Path) -> None:
        self.base = base
        self._procs: list[subprocess.Popen[bytes]] = []
        self._n = 0
        self._certificate: Certificate | None = None

    def certificate(self) -> Certificate:
        if self._certificate is None:
            self._certificate = make_certificate(self.base / "tls")
        return self._certificate

    def token_file(self, name: str, *tokens: str) -> Path:
        path = self.base / "tokens" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# tokens for the tests\n" + "".join(f"{t}\n" for t in tokens))
        path.chmod(0o600)
        return path

    def flags(self, tls: bool, ingest: str | None, query: str | None) -> list[str]:
        flags: list[str] = []
        if tls:
            cert = self.certificate()
            flags += ["--tls-cert", str(cert.cert), "--tls-key", str(cert.key)]
        if ingest:
            flags += ["--ingest-token-file", str(self.token_file("ingest", ingest, "ingest-rotated-0000"))]
        if query:
            flags += ["--query-token-file", str(self.token_file("query", query))]
        return flags

    def command(self, data_dir: Path, flags: Sequence[str]) -> list[str]:
        return [PYTHON, "-m", "tracehouse", "up", "--data", str(data_dir), "--otlp-grpc-port", "0",
                "--otlp-http-port", "0", "--query-port", "0", *flags]

    def __call__(self, *extra: str, tls: bool = False, ingest: str | None = None, query: str | None = None,
                 env: dict[str, str] | None = None) -> SecureBackend:
        self._n += 1
        data_dir = self.base / f"data-{self._n}"
        data_dir.mkdir(parents=True)
        log_path = self.base / f"backend-{self._n}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(self.command(data_dir, [*self.flags(tls, ingest, query), *extra]),
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=clean_env(env), start_new_session=True)
        self._procs.append(proc)
        backend = SecureBackend(proc, data_dir, log_path, certificate=self.certificate() if tls else None,
                                ingest_token=ingest, query_token=query)

        def ready() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"backend exited with {proc.returncode} while starting:\n{backend.log()}")
            try:
                info = json.loads((data_dir / "server.json").read_text())
            except (OSError, ValueError):
                return False
            backend.info = info
            return info.get("pid") == proc.pid and backend.healthy()

        wait_for(ready, START_TIMEOUT, "the backend to become ready")
        return backend

    def fails(self, *flags: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run a backend that must refuse to start."""
        self._n += 1
        data_dir = self.base / f"data-{self._n}"
        return subprocess.run(self.command(data_dir, flags), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, env=clean_env(env), timeout=60, start_new_session=True, check=False)

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)


@pytest.fixture(scope="module")
def secure_backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBackendFactory]:
    factory = SecureBackendFactory(tmp_path_factory.mktemp("secure"))
    try:
        yield factory
    finally:
        factory.close()
