"""A load generator for the ingest benchmark, run as its own process.

It builds every body before the clock starts (so building them costs the backend no CPU), then N
sender threads post them back to back for the given duration and print one JSON line of figures.
    python -m bench.otlp_load --protocol http|grpc|json --target ADDR --duration 20 --senders 4
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import grpc

from bench.fbaas_shape import RequestFactory, to_otlp_json

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
RETRY_PAUSE_S = 0.05


def build_bodies(count: int, spans: int, protocol: str, seed: int, pad_bytes: int = 0) -> list[bytes]:
    factory = RequestFactory(spans, seed=seed)
    bodies = [factory.next_body() for _ in range(count)]
    if pad_bytes:
        bodies = [_padded(b, pad_bytes) for b in bodies]
    if protocol == "json":
        bodies = [to_otlp_json(b) for b in bodies]
    return bodies


def _padded(body: bytes, pad_bytes: int) -> bytes:
    """The request with a `pad` attribute of `pad_bytes` on every span (heavy spans)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest.FromString(body)
    for rs in request.resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                span.attributes.add(key="pad").value.string_value = "x" * pad_bytes
    return request.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=["http", "grpc", "json"], required=True)
    parser.add_argument("--target", required=True, help="http://host:port for http/json, host:port for grpc")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--spans", type=int, default=500)
    parser.add_argument("--bodies", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token", default="", help="Bearer token to send (the backend's ingest token)")
    parser.add_argument("--cafile", default="", help="Certificate to trust: TLS on (https:// or gRPC TLS)")
    parser.add_argument("--pad-bytes", type=int, default=0, help="Add an attribute of this many bytes to every span")
    parser.add_argument("--reuse", action="store_true", help="Send the bodies again in a cycle when they run out")
    args = parser.parse_args()

    bodies = build_bodies(args.bodies, args.spans, args.protocol, args.seed, args.pad_bytes)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()  # the orchestrator says go once it has sampled the idle backend

    lock = threading.Lock()
    next_index = [0]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    acked_spans = [0]
    deadline = time.perf_counter() + args.duration

    def take() -> bytes | None:
        with lock:
            if (next_index[0] >= len(bodies) and not args.reuse) or time.perf_counter() >= deadline:
                return None
            next_index[0] += 1
            return bodies[(next_index[0] - 1) % len(bodies)]

    def record(status: str, seconds: float) -> None:
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            if status == "ok":
                latencies.append(seconds)
                acked_spans[0] += args.spans

    # A refused request (503 / UNAVAILABLE: the backend's queue is full) is sent again after a short
    # pause, as an exporter would, rather than dropped: the figures count only acknowledged spans,
    # and skipping would burn through the prebuilt bodies. The pause is shorter than the backend's
    # one-second Retry-After so that the senders keep it saturated.
    # The standard library's keep-alive client, not httpx: the load generator shares the backend's two
    # cores, and httpx cost it ~3x the CPU per request (measured over a 20 s run: 3.0 CPU-s against 1.2).
    def http_sender() -> None:
        headers = {"Content-Type": "application/json" if args.protocol == "json" else "application/x-protobuf"}
        headers |= {"Authorization": f"Bearer {args.token}"} if args.token else {}
        url = urlsplit(args.target)
        conn = (http.client.HTTPSConnection(url.hostname or "127.0.0.1", url.port, timeout=60.0,
                                            context=ssl.create_default_context(cafile=args.cafile))
                if url.scheme == "https" else
                http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60.0))
        try:
            while (body := take()) is not None:
                while True:
                    t0 = time.perf_counter()
                    conn.request("POST", "/v1/traces", body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    record("ok" if response.status == 200 else str(response.status), time.perf_counter() - t0)
                    if response.status != 503 or time.perf_counter() >= deadline:
                        break
                    time.sleep(RETRY_PAUSE_S)
        finally:
            conn.close()

    def grpc_sender() -> None:
        options = [("grpc.max_send_message_length", 64 << 20)]
        metadata = (("authorization", f"Bearer {args.token}"),) if args.token else None
        channel = (grpc.secure_channel(args.target, grpc.ssl_channel_credentials(Path(args.cafile).read_bytes()),
                                       options=options)
                   if args.cafile else grpc.insecure_channel(args.target, options=options))
        with channel as ch:
            export = ch.unary_unary(EXPORT, _registered_method=False)
            while (body := take()) is not None:
                while True:
                    t0 = time.perf_counter()
                    try:
                        export(body, timeout=60.0, metadata=metadata)
                        record("ok", time.perf_counter() - t0)
                        break
                    except grpc.RpcError as exc:
                        record(exc.code().name, time.perf_counter() - t0)
                        if exc.code() != grpc.StatusCode.UNAVAILABLE or time.perf_counter() >= deadline:
                            break
                    time.sleep(RETRY_PAUSE_S)

    target = grpc_sender if args.protocol == "grpc" else http_sender
    started = time.perf_counter()
    threads = [threading.Thread(target=target) for _ in range(args.senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    p50 = latencies[len(latencies) // 2] if latencies else float("nan")
    print(json.dumps({"elapsed": elapsed, "acked_spans": acked_spans[0], "statuses": statuses,
                      "p50_ms": p50 * 1000, "p99_ms": p99 * 1000, "bodies_used": next_index[0],
                      "bodies_built": len(bodies)}), flush=True)


if __name__ == "__main__":
    main()
