"""Planted-cause incidents: a baseline period of normal traffic, then an incident window in which one
(or two, or no) cause is planted, in a 14-service shop that is not FBaaS. For doctor's tests and for
`make bench` (top-1 accuracy over the whole suite).

The noise is what real traffic has, so that a method tuned to clean data fails here:
- every work time is lognormal around its median (sigma 0.35), and 0.3% of spans are stray slow
  outliers (x5 to x30), on both sides of the incident boundary;
- 0.5% of requests fail somewhere at random (the error propagates up to the root half the time);
- high-cardinality attributes: user.id, request.id, session ids, and ids inside url.path;
- 8 attributes on every span (20 on entry spans) and 12 resource attributes per service (host, pod, zone, ...).

Traffic mixes four entry points (browse, search with a parallel fan-out, checkout with an
uninstrumented bank behind a CLIENT span and an async order queue, account pages whose only
endpoint name is in url.path). Each scenario's `expected` says which cause doctor must rank first.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pyarrow as pa

from tracehouse.analytics.causes import Cause, Diagnosis
from tracehouse.model import SPAN_BATCH_SCHEMA

INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER = 1, 2, 3, 4, 5
UNSET, OK, ERROR = 0, 1, 2
MS = 1_000_000
SIGMA = 0.35
OUTLIER_SHARE = 0.003
RANDOM_ERROR_SHARE = 0.005
TENANTS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell")
REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")
SHARDS = 4


@dataclass(frozen=True)
class Plant:
    """What is wrong during the incident (from `start_share` of the window on: 0 = from its start)."""

    slow_service: str | None = None          # its own work gets `slow_ms` slower
    slow_ms: float = 0.0
    segment: tuple[str, str] | None = None   # ...only for requests with this span attribute value
    new_version: str | None = None           # ...and it runs this service.version from then on
    start_share: float = 0.0
    edge_delay: tuple[str, str, float] | None = None   # (caller, callee, ms) network delay
    bank_delay_ms: float = 0.0               # the uninstrumented bank answers slower
    slow_shard: tuple[int, float] | None = None        # one branch of the search fan-out
    queue_delay_ms: float = 0.0              # orders wait this long in the queue to fulfilment
    skew: tuple[str, float] | None = None    # a service's clock is off by this many ms (not a cause)
    failing: tuple[str, float] | None = None  # (service, share of its calls that fail); callers retry
    backoff_ms: float = 0.0                  # payments waits this long before retrying ledger (else ~5 ms)
    contention: float = 0.0                  # payments is CPU-starved: its work takes this many times longer,
                                             # and so does its side of the call to the bank (TLS, JSON)
    timeout: tuple[str, float] | None = None  # (service, ms) slow callee; callers time out at 250 ms
    n_plus_one: int = 0                      # cart asks pricing once per item instead of once
    error_origin: tuple[str, float] | None = None   # (service, share) errors that propagate up
    slow_path: tuple[str, float] | None = None      # (url.path template, ms) slow account endpoint


@dataclass(frozen=True)
class Expected:
    """The cause doctor must rank first. `service` is the place blamed (for an edge, its callee);
    `caller` names the edge's caller when the cause is between two services; `segment` the
    attribute value the cause is narrowed to."""

    service: str
    caller: str | None = None
    segment: tuple[str, str] | None = None


@dataclass(frozen=True)
class Incident:
    name: str
    description: str
    plant: Plant
    expected: tuple[Expected, ...]          # empty: no cause; two: both must be the first two


@dataclass
class _Span:
    service: str
    name: str
    kind: int
    start: int
    end: int
    parent: _Span | None
    error: bool = False
    attributes: dict[str, object] = field(default_factory=dict)
    span_id: bytes = b""


class _Request:
    """Builds one trace's spans: each helper lays out a call in time and returns its end."""

    def __init__(self, rng: random.Random, plant: Plant | None, root_attrs: dict[str, object]) -> None:
        self.rng, self.plant, self.root_attrs = rng, plant, root_attrs
        self.spans: list[_Span] = []

    def work(self, median_ms: float) -> int:
        ms = median_ms * math.exp(self.rng.gauss(0.0, SIGMA))
        if self.rng.random() < OUTLIER_SHARE:
            ms *= self.rng.uniform(5, 30)
        return int(ms * MS)

    def span(self, service: str, name: str, kind: int, start: int, parent: _Span | None,
             **attributes: object) -> _Span:
        s = _Span(service, name, kind, start, start, parent, attributes=dict(attributes))
        self.spans.append(s)
        return s

    def slow_extra(self, service: str, attrs: dict[str, object]) -> int:
        p = self.plant
        if p is None or p.slow_service != service:
            return 0
        if p.segment is not None and str(attrs.get(p.segment[0], self.root_attrs.get(p.segment[0]))) != p.segment[1]:
            return 0
        return self.work(p.slow_ms)

    # A server's own work, with its calls in between.
    def server(self, service: str, operation: str, start: int, parent: _Span | None, work_ms: float,
               calls: list[tuple[str, str, float]] | None = None, attrs: dict[str, object] | None = None) -> _Span:
        attrs = attrs or {}
        s = self.span(service, operation, SERVER, start, parent, **attrs)
        t = start + self.work(work_ms * 0.6) + self.slow_extra(service, attrs)
        for callee, op, ms in calls or []:
            t = self.call(s, callee, op, t, ms)
        s.end = t + self.work(work_ms * 0.4)
        s.error = any(c.error for c in self.spans if c.parent is s)  # a failed call fails the request
        return s

    def call(self, parent: _Span, callee: str, operation: str, start: int, work_ms: float,
             calls: list[tuple[str, str, float]] | None = None, attrs: dict[str, object] | None = None) -> int:
        """A CLIENT span in the parent's service and the callee's SERVER span inside it."""
        p = self.plant
        client = self.span(parent.service, operation.split(" ")[0], CLIENT, start, parent,
                           **{"peer.service": callee, "http.request.method": operation.split(" ")[0]})
        net = self.work(0.4)
        if p is not None and p.edge_delay and p.edge_delay[:2] == (parent.service, callee):
            net += self.work(p.edge_delay[2])
        server = self.server(callee, operation, start + net // 2, client, work_ms, calls, attrs)
        if p is not None and p.timeout and p.timeout[0] == callee:
            server.end += self.work(p.timeout[1])
        if p is not None and p.failing and p.failing[0] == callee and self.rng.random() < p.failing[1]:
            server.error = True
        if p is not None and p.error_origin and p.error_origin[0] == callee and self.rng.random() < p.error_origin[1]:
            server.error = True
        client.end = server.end + net - net // 2
        if p is not None and p.timeout and p.timeout[0] == callee and client.end - client.start > 250 * MS:
            client.end, client.error = client.start + 250 * MS, True
        client.error = client.error or server.error
        return client.end

    # ---- the four kinds of request
    def browse(self, start: int, attrs: dict[str, object]) -> None:
        root = self.server("frontend", "GET /product/{id}", start, None, 2.0, None, attrs)
        t = root.start + self.work(1.0)
        t = self.call(root, "auth", "POST /verify", t, 1.5)
        t = self.call(root, "catalog", "GET /item", t, 6.0, [("inventory", "SELECT stock", 2.0)])
        t = self.call(root, "recommend", "GET /similar", t, 8.0)
        root.end = t + self.work(0.5)
        self.fail_up(root)

    def fail_up(self, root: _Span) -> None:
        root.error = root.error or any(c.error for c in self.spans if c.parent is root and c.kind == CLIENT)

    def search(self, start: int, attrs: dict[str, object]) -> None:
        root = self.server("frontend", "GET /search", start, None, 1.5, None, attrs)
        t = self.call(root, "auth", "POST /verify", root.start + self.work(0.5), 1.5)
        client = self.span("frontend", "POST", CLIENT, t, root, **{"peer.service": "search"})
        server = self.span("search", "POST /query", SERVER, t + self.work(0.2), client)
        fan_start = server.start + self.work(1.0)
        ends = []
        for shard in range(SHARDS):  # parallel branches: the request waits for the slowest
            c = self.span("search", "GET", CLIENT, fan_start, server, **{"peer.service": "index"})
            extra = 0
            if self.plant is not None and self.plant.slow_shard and self.plant.slow_shard[0] == shard:
                extra = self.work(self.plant.slow_shard[1])
            s = self.span("index", "GET /shard", SERVER, fan_start + self.work(0.2), c, **{"index.shard": shard})
            s.end = s.start + self.work(12.0) + extra
            c.end = s.end + self.work(0.2)
            ends.append(c.end)
        server.end = max(ends) + self.work(1.0)
        client.end = server.end + self.work(0.2)
        root.end = client.end + self.work(0.5)
        self.fail_up(root)

    def checkout(self, start: int, attrs: dict[str, object]) -> None:
        p = self.plant
        root = self.server("frontend", "POST /checkout", start, None, 2.0, None, attrs)
        t = self.call(root, "auth", "POST /verify", root.start + self.work(0.5), 1.5)
        items = self.rng.randint(1, 4)
        repeats = items * p.n_plus_one if p is not None and p.n_plus_one else 1
        cart_calls = [("pricing", "GET /price", 1.5)] * repeats
        client = self.span("frontend", "POST", CLIENT, t, root, **{"peer.service": "cart"})
        cart = self.server("cart", "POST /cart/checkout", t + self.work(0.2), client, 3.0, cart_calls,
                           {"cart.items": items})
        client.end = cart.end + self.work(0.2)
        client.error = cart.error
        t = client.end
        # payments: retries a failing call once; the bank behind it is seen only through a CLIENT span
        client = self.span("frontend", "POST", CLIENT, t, root, **{"peer.service": "payments"})
        pay = self.span("payments", "POST /charge", SERVER, t + self.work(0.2), client)
        slow = p.contention if p is not None and p.contention else 1.0
        u = pay.start + int(self.work(1.0) * slow)
        bank = self.span("payments", "POST", CLIENT, u, pay, **{"peer.service": "bank-gateway",
                                                                  "server.address": "api.bank.example"})
        bank.end = u + self.work(25.0) + (self.work(p.bank_delay_ms) if p and p.bank_delay_ms else 0)
        if slow > 1.0:  # the client's own part of the call (~3 ms of encoding and TLS) slows down too
            bank.end += self.work(3.0 * (slow - 1.0))
        u = bank.end
        for attempt in range(2):  # ledger: retried once when it fails
            u = self.call(pay, "ledger", "POST /entries", u, 3.0)
            last = self.spans[-1]
            if not last.error:
                break
            if attempt == 0:
                u += self.work(p.backoff_ms if p is not None and p.backoff_ms else 5.0)  # back-off
        pay.end = u + int(self.work(0.5) * slow)
        pay.error = self.spans[-1].error
        client.end = pay.end + self.work(0.2)
        client.error = pay.error
        # the order goes on a queue; fulfilment consumes it after the request has answered
        producer = self.span("frontend", "orders publish", PRODUCER, client.end, root,
                             **{"messaging.system": "kafka", "messaging.destination.name": "orders"})
        producer.end = producer.start + self.work(0.8)
        root.end = producer.end + self.work(0.5)
        self.fail_up(root)
        wait = self.work(15.0) + (self.work(p.queue_delay_ms) if p and p.queue_delay_ms else 0)
        consumer = self.span("fulfilment", "orders process", CONSUMER, producer.end + wait, producer,
                             **{"messaging.system": "kafka", "messaging.destination.name": "orders"})
        end = self.call(consumer, "email", "POST /send", consumer.start + self.work(2.0), 4.0)
        consumer.end = end + self.work(1.0)

    def account(self, start: int, attrs: dict[str, object]) -> None:
        """Endpoints known only by url.path (the span name is the bare method), ids in the path."""
        template = self.rng.choice(("/api/users/{id}/orders", "/api/users/{id}/profile", "/api/orders/{id}"))
        path = template.replace("{id}", str(self.rng.randint(1000, 999_999)))
        root = self.server("frontend", "GET", start, None, 1.5, None, {**attrs, "url.path": path})
        t = self.call(root, "auth", "POST /verify", root.start + self.work(0.5), 1.5)
        extra = 0.0
        if self.plant is not None and self.plant.slow_path and self.plant.slow_path[0] == template:
            extra = self.plant.slow_path[1]
        t = self.call(root, "accounts", "GET", t, 5.0 + extra, None, {"url.path": path})
        root.end = t + self.work(0.5)
        self.fail_up(root)


def _root_attributes(rng: random.Random) -> dict[str, object]:
    return {
        "tenant.id": rng.choice(TENANTS), "cloud.region": rng.choice(REGIONS),
        "user.id": f"u-{rng.randint(1, 200_000)}", "request.id": f"{rng.getrandbits(64):016x}",
        "session.id": f"s{rng.getrandbits(40):010x}", "http.request.method": "GET",
        "user_agent.original": rng.choice(("Mozilla/5.0 (X11)", "Mozilla/5.0 (Mac)", "okhttp/4.12")),
        "client.address": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "feature.new_cart": rng.random() < 0.5, "app.build": rng.choice(("a1", "a2")),
        "network.protocol.version": "1.1", "server.port": 8080,
    }


def _resource(service: str, version: str, host: int) -> dict[str, object]:
    return {
        "service.name": service, "service.version": version, "service.namespace": "shop",
        "deployment.environment": "prod", "host.name": f"{service}-{host}", "k8s.pod.name": f"{service}-7d9f-{host}",
        "k8s.namespace.name": "shop", "cloud.provider": "aws", "cloud.availability_zone": f"eu-west-1{'abc'[host % 3]}",
        "process.runtime.name": "cpython", "telemetry.sdk.language": "python", "telemetry.sdk.version": "1.27.0",
    }


SERVICES = ("frontend", "auth", "catalog", "inventory", "recommend", "search", "index", "cart", "pricing",
            "payments", "ledger", "fulfilment", "email", "accounts")


def generate(incident: Incident, baseline_traces: int, incident_traces: int, seed: int = 1,
             start_ns: int = 1_700_000_000 * 10**9, spacing_ms: float = 20.0) -> Iterator[pa.Table]:
    """Batches of the baseline's traces, then the incident's (one request every `spacing_ms`)."""
    rng = random.Random(seed)
    plant = incident.plant
    versions = {s: "1.8.2" for s in SERVICES}
    cols: dict[str, list[object]] = {name: [] for name in SPAN_BATCH_SCHEMA.names}
    json_cache: dict[str, str] = {}
    for index in range(baseline_traces + incident_traces):
        t = start_ns + int(index * spacing_ms * MS)
        active: Plant | None = None
        if index >= baseline_traces and (index - baseline_traces) >= plant.start_share * incident_traces:
            active = plant
        run_versions = dict(versions)
        if active is not None and active.new_version and active.slow_service:
            run_versions[active.slow_service] = active.new_version
        attrs = _root_attributes(rng)
        req = _Request(rng, active, attrs)
        kind = rng.random()
        if kind < 0.35:
            req.browse(t, attrs)
        elif kind < 0.6:
            req.search(t, attrs)
        elif kind < 0.85:
            req.checkout(t, attrs)
        else:
            req.account(t, attrs)
        _random_error(rng, req.spans)
        if active is not None and active.skew is not None:
            shift = int(active.skew[1] * MS)
            for s in req.spans:
                if s.service == active.skew[0]:
                    s.start, s.end = s.start + shift, s.end + shift
        _emit(req.spans, rng, run_versions, cols, json_cache)
        if len(cols["trace_id"]) >= 50_000:
            yield pa.table(cols, schema=SPAN_BATCH_SCHEMA)
            cols = {name: [] for name in SPAN_BATCH_SCHEMA.names}
    if cols["trace_id"]:
        yield pa.table(cols, schema=SPAN_BATCH_SCHEMA)


def window(incident: Incident, baseline_traces: int, incident_traces: int, start_ns: int = 1_700_000_000 * 10**9,
           spacing_ms: float = 20.0) -> tuple[int, int, int]:
    """(baseline start, incident start, incident end) in unix ns, for `generate` with the same sizes."""
    boundary = start_ns + int(baseline_traces * spacing_ms * MS)
    return start_ns, boundary, boundary + int(incident_traces * spacing_ms * MS)


def _random_error(rng: random.Random, spans: list[_Span]) -> None:
    if rng.random() >= RANDOM_ERROR_SHARE:
        return
    origin = rng.choice(spans)
    origin.error = True
    if rng.random() < 0.5:
        parent = origin.parent
        while parent is not None:
            parent.error = True
            parent = parent.parent


_COMMON: dict[tuple[str, int], dict[str, object]] = {}


def _common_attributes(service: str, kind: int) -> dict[str, object]:
    """What instrumentation puts on every span (8 attributes), so every span carries ~10."""
    return {"code.namespace": f"shop.{service}.handlers", "thread.name": "worker-1", "otel.kind": kind,
            "network.transport": "tcp", "app.instance.role": "primary", "app.port": 8080,
            "deployment.ring": "r1", "app.module": service}


def _emit(spans: list[_Span], rng: random.Random, versions: dict[str, str], cols: dict[str, list[object]],
          json_cache: dict[str, str]) -> None:
    trace_id = rng.getrandbits(128).to_bytes(16, "big")
    for s in spans:
        s.span_id = rng.getrandbits(64).to_bytes(8, "big")
    for s in spans:
        cols["trace_id"].append(trace_id)
        cols["span_id"].append(s.span_id)
        cols["parent_span_id"].append(s.parent.span_id if s.parent is not None else None)
        cols["trace_state"].append(None)
        cols["service_name"].append(s.service)
        cols["span_name"].append(s.name)
        cols["span_kind"].append(s.kind)
        cols["start_time_unix_nano"].append(s.start)
        cols["end_time_unix_nano"].append(max(s.end, s.start))
        cols["status_code"].append(ERROR if s.error else UNSET)
        cols["status_message"].append("failed" if s.error else None)
        common = _COMMON.get((s.service, s.kind))
        if common is None:
            common = _COMMON[(s.service, s.kind)] = _common_attributes(s.service, s.kind)
        cols["attributes"].append(json.dumps({**common, **s.attributes}, separators=(",", ":")))
        host = rng.randrange(3)
        key = f"{s.service}|{versions[s.service]}|{host}"
        resource = json_cache.get(key)
        if resource is None:
            resource = json_cache[key] = json.dumps(_resource(s.service, versions[s.service], host),
                                                    separators=(",", ":"))
        cols["resource_attributes"].append(resource)
        cols["events"].append(None)
        cols["links"].append(None)
        cols["scope_name"].append("incidents")
        cols["scope_version"].append(None)
        cols["flags"].append(0x101)   # sampled, parent not remote: what an SDK sets
        cols["scope_attributes"].append(None)
        cols["scope_schema_url"].append(None)
        cols["resource_schema_url"].append(None)


# ---- the suite: one scenario per cause class ------------------------------------------------------

SUITE: tuple[Incident, ...] = (
    Incident("segment", "recommend is slow only for tenant.id=globex",
             Plant(slow_service="recommend", slow_ms=60.0, segment=("tenant.id", "globex")),
             (Expected("recommend", segment=("tenant.id", "globex")),)),
    Incident("deploy", "catalog 1.9.0 is deployed a third into the window and is 30 ms slower",
             Plant(slow_service="catalog", slow_ms=30.0, new_version="1.9.0", start_share=0.33),
             (Expected("catalog", segment=("service.version", "1.9.0")),)),
    Incident("network", "the network between frontend and auth adds 20 ms",
             Plant(edge_delay=("frontend", "auth", 20.0)), (Expected("auth", caller="frontend"),)),
    Incident("uninstrumented", "the bank behind payments (no spans of its own) answers 80 ms slower",
             Plant(bank_delay_ms=80.0), (Expected("bank-gateway", caller="payments"),)),
    Incident("cpu-contention", "payments is CPU-starved (its work 6x slower), which also stretches its calls "
             "to the uninstrumented bank", Plant(contention=6.0), (Expected("payments"),)),
    Incident("fan-out", "index shard 2 of the parallel search is 40 ms slower",
             Plant(slow_shard=(2, 40.0)), (Expected("index", segment=("index.shard", "2")),)),
    Incident("queue", "orders wait 300 ms longer in the queue to fulfilment",
             Plant(queue_delay_ms=300.0), (Expected("fulfilment", caller="frontend"),)),
    Incident("clock-skew", "cart's clock is 400 ms ahead (not a cause) while pricing is 15 ms slower",
             Plant(skew=("cart", 400.0), slow_service="pricing", slow_ms=15.0), (Expected("pricing"),)),
    Incident("retries", "ledger fails 40% of its calls; payments retries them",
             Plant(failing=("ledger", 0.4)), (Expected("ledger"),)),
    Incident("retry-backoff", "ledger fails 40% of its calls; payments waits 150 ms before each retry",
             Plant(failing=("ledger", 0.4), backoff_ms=150.0), (Expected("ledger"),)),
    Incident("timeouts", "accounts takes 400 ms more; frontend times out at 250 ms",
             Plant(timeout=("accounts", 400.0)), (Expected("accounts"),)),
    Incident("n-plus-one", "cart asks pricing once per item, 6 times over",
             Plant(n_plus_one=6), (Expected("pricing", caller="cart"),)),
    Incident("error-origin", "inventory fails 15% of its calls; catalog and frontend pass the error up",
             Plant(error_origin=("inventory", 0.15)), (Expected("inventory"),)),
    Incident("path-ids", "accounts is slow on /api/users/{id}/orders only (ids in url.path, span name GET)",
             Plant(slow_path=("/api/users/{id}/orders", 80.0)),
             (Expected("accounts", segment=("url.path", "/api/users/{id}/orders")),)),
    Incident("two-causes", "recommend is 50 ms slower and ledger fails 40% of its calls",
             Plant(slow_service="recommend", slow_ms=50.0, failing=("ledger", 0.4)),
             (Expected("recommend"), Expected("ledger"))),
    Incident("no-cause", "healthy traffic throughout: nothing was planted", Plant(), ()),
)


def matches(cause: Cause, expected: Expected) -> bool:
    """Whether a cause names the planted one: the place, the edge's caller, and the segment."""
    if cause.location.service != expected.service:
        return False
    if expected.caller is not None and cause.location.caller != expected.caller:
        return False
    if expected.segment is None:
        return True
    return cause.segment is not None and (cause.segment.key, cause.segment.value) == expected.segment


def found(diagnosis: Diagnosis, incident: Incident) -> bool:
    """Doctor got it right: no cause when none was planted; else the planted ones ranked first
    (two planted causes: the first two causes, in either order)."""
    want = incident.expected
    if not want:
        return not diagnosis.causes
    top = diagnosis.causes[:len(want)]
    if len(top) < len(want):
        return False
    return all(any(matches(c, e) for c in top) for e in want) and all(any(matches(c, e) for e in want) for c in top)


def by_name(name: str) -> Incident:
    for incident in SUITE:
        if incident.name == name:
            return incident
    raise KeyError(name)


__all__ = ["SUITE", "Expected", "Incident", "Plant", "by_name", "found", "generate", "matches", "replace", "window"]
