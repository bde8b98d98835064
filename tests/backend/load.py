"""A load generator: threads that send unique FBaaS-shaped requests back to back, over OTLP/HTTP
(protobuf) and OTLP/gRPC, and record the fate of every span they sent.

  acked    the backend answered 200 / OK: these spans must be stored (now, or after a crash)
  refused  503 / UNAVAILABLE: the backend kept nothing of these
  unknown  the connection failed mid-request (e.g. the backend was killed): either outcome is fine
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

import grpc
import httpx
from grpc_status import rpc_status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

from .conftest import Backend
from .otlp_requests import PROTOBUF, fbaas_request


@dataclass
class Load:
    backend: Backend
    http_threads: int = 3
    grpc_threads: int = 1
    traces_per_request: int = 20
    pad_bytes: int = 0
    acked: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    first_503: httpx.Response | None = None
    first_unavailable: grpc.RpcError | None = None
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._http, daemon=True) for _ in range(self.http_threads)]
        self._threads += [threading.Thread(target=self._grpc, daemon=True) for _ in range(self.grpc_threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        assert not any(t.is_alive() for t in self._threads), "a load thread did not stop"

    @property
    def acked_requests(self) -> int:
        with self._lock:
            return self.outcomes["http 200"] + self.outcomes["grpc OK"]

    def count(self, outcome: str) -> int:
        with self._lock:
            return self.outcomes[outcome]

    def _record(self, outcome: str, bucket: list[str], span_ids: list[str]) -> None:
        with self._lock:
            self.outcomes[outcome] += 1
            bucket.extend(span_ids)

    def _http(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                built = fbaas_request(self.traces_per_request, pad_bytes=self.pad_bytes)
                try:
                    response = client.post(self.backend.traces_url, content=built.protobuf(),
                                           headers={"Content-Type": PROTOBUF})
                except httpx.HTTPError:
                    self._record("http failed", self.unknown, built.span_ids)
                    if not self.backend.alive():
                        return
                    continue
                if response.status_code == 200:
                    self._record("http 200", self.acked, built.span_ids)
                elif response.status_code == 503:
                    with self._lock:
                        self.first_503 = self.first_503 or response
                    self._record("http 503", self.refused, built.span_ids)
                else:
                    self._record(f"http {response.status_code}", self.unknown, built.span_ids)
                    with self._lock:
                        self.errors.append(f"HTTP {response.status_code}: {response.content[:200]!r}")

    def _grpc(self) -> None:
        with grpc.insecure_channel(self.backend.otlp_grpc) as channel:
            stub = TraceServiceStub(channel)
            while not self._stop.is_set():
                built = fbaas_request(self.traces_per_request, pad_bytes=self.pad_bytes)
                try:
                    stub.Export(built.request, timeout=60)
                except grpc.RpcError as error:
                    code = error.code()  # type: ignore[attr-defined]
                    if code == grpc.StatusCode.UNAVAILABLE and rpc_status.from_call(error) is not None:
                        with self._lock:
                            self.first_unavailable = self.first_unavailable or error
                        self._record("grpc UNAVAILABLE", self.refused, built.span_ids)
                    else:
                        # A connection broken mid-call is UNAVAILABLE too, but without our status details.
                        self._record(f"grpc {code.name} (connection)", self.unknown, built.span_ids)
                        if not self.backend.alive():
                            return
                    continue
                self._record("grpc OK", self.acked, built.span_ids)
