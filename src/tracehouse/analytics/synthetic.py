"""Synthetic trace sets with known, planted causes: for the analyses' tests and the benchmark.

A scenario is a function `(rng, index) -> Call`: the tree of calls one request makes. `generate`
lays the tree out in time (a span's own work, then its children one after another or in parallel)
and emits rows in `model.SPAN_BATCH_SCHEMA`, ready for `SpanWriter.write_spans`.

The scenarios below each plant one cause an analysis must find first:
- `fbaas`: the talk's example system, with its planted delay in fizzer.
- `slow_route`: one operation is slow only on one route.
- `slow_attribute`: a dependency is slow only for one attribute value.
- `bad_version`: errors come from one version of one service.
- `funnel`: traffic into a service comes mostly from one entry point.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from tracehouse.model import SPAN_BATCH_SCHEMA

INTERNAL, SERVER, CLIENT = 1, 2, 3
UNSET, OK, ERROR = 0, 1, 2
MS = 1_000_000


@dataclass
class Call:
    """One span and what it calls. Times in milliseconds: `before_ms` of own work, then the
    children (in sequence, or all at once when `parallel`), then `after_ms` of own work."""

    service: str
    operation: str
    kind: int = SERVER
    before_ms: float = 1.0
    after_ms: float = 0.5
    children: list[Call] = field(default_factory=list)
    parallel: bool = False
    error: bool = False
    attributes: dict[str, object] = field(default_factory=dict)
    version: str = "1.0.0"


def client_server(caller: str, callee: str, operation: str, work_ms: float, **server: object) -> Call:
    """A CLIENT span in `caller` wrapping the SERVER span of `callee` (what HTTP instrumentation makes)."""
    inner = Call(callee, operation, SERVER, before_ms=work_ms, after_ms=0.2)
    for key, value in server.items():
        setattr(inner, key, value)
    return Call(caller, f"{operation.split(' ')[0]}", CLIENT, before_ms=0.3, after_ms=0.2,
                children=[inner], error=inner.error)


Scenario = Callable[[random.Random, int], Call]


class _JsonCache:
    """Attribute maps repeat a lot; serialising each distinct map once keeps generation fast."""

    def __init__(self) -> None:
        self._cache: dict[tuple[tuple[str, object], ...], str] = {}

    def dumps(self, attrs: dict[str, object]) -> str:
        key = tuple(sorted(attrs.items()))
        text = self._cache.get(key)
        if text is None:
            text = json.dumps(attrs, separators=(",", ":"))
            if len(self._cache) < 100_000:
                self._cache[key] = text
        return text


def generate(scenario: Scenario, traces: int, seed: int = 1, start_ns: int = 1_700_000_000 * 10**9,
             spacing_ms: float = 10.0, batch_traces: int = 20_000) -> Iterator[pa.Table]:
    """Batches (of up to `batch_traces` traces) of the scenario's requests, one every `spacing_ms`."""
    rng = random.Random(seed)
    cache = _JsonCache()
    cols: dict[str, list[object]] = {name: [] for name in SPAN_BATCH_SCHEMA.names}
    for index in range(traces):
        root = scenario(rng, index)
        trace_id = rng.getrandbits(128).to_bytes(16, "big")
        _emit(root, trace_id, None, start_ns + int(index * spacing_ms * MS), rng, cache, cols)
        if (index + 1) % batch_traces == 0:
            yield pa.table(cols, schema=SPAN_BATCH_SCHEMA)
            cols = {name: [] for name in SPAN_BATCH_SCHEMA.names}
    if cols["trace_id"]:
        yield pa.table(cols, schema=SPAN_BATCH_SCHEMA)


def _emit(call: Call, trace_id: bytes, parent: bytes | None, start: int, rng: random.Random,
          cache: _JsonCache, cols: dict[str, list[object]]) -> int:
    """Append the span of `call` and its subtree starting at `start`; return its end time."""
    span_id = rng.getrandbits(64).to_bytes(8, "big")
    cursor = start + int(call.before_ms * MS)
    end_of_children = cursor
    for child in call.children:
        child_end = _emit(child, trace_id, span_id, cursor, rng, cache, cols)
        end_of_children = max(end_of_children, child_end)
        if not call.parallel:
            cursor = child_end
    end = end_of_children + int(call.after_ms * MS)
    cols["trace_id"].append(trace_id)
    cols["span_id"].append(span_id)
    cols["parent_span_id"].append(parent)
    cols["trace_state"].append(None)
    cols["service_name"].append(call.service)
    cols["span_name"].append(call.operation)
    cols["span_kind"].append(call.kind)
    cols["start_time_unix_nano"].append(start)
    cols["end_time_unix_nano"].append(end)
    cols["status_code"].append(ERROR if call.error else UNSET)
    cols["status_message"].append("failed" if call.error else None)
    cols["attributes"].append(cache.dumps(call.attributes))
    cols["resource_attributes"].append(cache.dumps({"service.name": call.service, "service.version": call.version}))
    cols["events"].append(None)
    cols["links"].append(None)
    cols["scope_name"].append("synthetic")
    cols["scope_version"].append(None)
    cols["flags"].append(0x101)   # sampled, parent not remote: what an SDK sets
    cols["scope_attributes"].append(None)
    cols["scope_schema_url"].append(None)
    cols["resource_schema_url"].append(None)
    return end


def _jitter(rng: random.Random, ms: float) -> float:
    """Work times vary by ±30%, as real ones do; lognormal would add tails we do not want to test."""
    return ms * rng.uniform(0.7, 1.3)


# ---- scenarios ------------------------------------------------------------------------------------

def fbaas(fizzer_delay_ms: float = 200.0, delayed_share: float = 1.0) -> Scenario:
    """FBaaS as in the talk: the hub calls fizzer then buzzer; fizzer has a planted delay."""

    def build(rng: random.Random, index: int) -> Call:
        n = index % 100 + 1
        delay = fizzer_delay_ms if rng.random() < delayed_share else 0.0
        return Call("hub", "GET /fizzbuzz/{n}", SERVER, before_ms=_jitter(rng, 1.0), after_ms=0.3,
                    attributes={"http.method": "GET", "http.route": "/fizzbuzz/{n}", "fizzbuzz.n": n,
                                "traffic.type": "user" if index % 10 else "synthetic"},
                    children=[
                        client_server("hub", "fizzer", "GET /fizz", _jitter(rng, 3.0) + delay),
                        client_server("hub", "buzzer", "GET /buzz", _jitter(rng, 3.0)),
                    ])
    return build


def slow_route() -> Scenario:
    """Three routes into `cart`; `db: SELECT items` is slow (80 ms) only on the /checkout route."""

    def build(rng: random.Random, index: int) -> Call:
        kind = index % 3
        if kind == 0:
            return Call("web", "GET /cart", before_ms=_jitter(rng, 2), children=[
                client_server("web", "cart", "GET /items", 2.0, children=[
                    client_server("cart", "db", "SELECT items", _jitter(rng, 4))])])
        if kind == 1:
            return Call("web", "POST /checkout", before_ms=_jitter(rng, 2), children=[
                client_server("web", "cart", "GET /items", 2.0, children=[
                    client_server("cart", "db", "SELECT items", _jitter(rng, 80))]),
                client_server("web", "payments", "POST /charge", _jitter(rng, 10))])
        return Call("web", "GET /product", before_ms=_jitter(rng, 2), children=[
            client_server("web", "catalog", "GET /product", _jitter(rng, 8), children=[
                client_server("catalog", "db", "SELECT items", _jitter(rng, 4))])])
    return build


def slow_attribute() -> Scenario:
    """`search` calls `index`; only requests with `customer.tier=enterprise` make the index slow."""

    def build(rng: random.Random, index: int) -> Call:
        tier = rng.choice(("free", "free", "free", "pro", "enterprise"))
        region = rng.choice(("eu", "us", "ap"))
        slow = tier == "enterprise"
        return Call("api", "GET /search", before_ms=_jitter(rng, 2),
                    attributes={"customer.tier": tier, "cloud.region": region, "http.method": "GET"},
                    children=[client_server("api", "index", "POST /query",
                                            _jitter(rng, 150 if slow else 10),
                                            attributes={"index.shard": rng.randrange(4)})])
    return build


def bad_version() -> Scenario:
    """`buzzer` runs 1.4.1 and 1.4.2 side by side; 1.4.2 fails a third of its requests."""

    def build(rng: random.Random, index: int) -> Call:
        version = "1.4.2" if rng.random() < 0.3 else "1.4.1"
        failing = version == "1.4.2" and rng.random() < 0.33
        other_fail = rng.random() < 0.005
        call = client_server("hub", "buzzer", "GET /buzz", _jitter(rng, 3), version=version, error=failing)
        return Call("hub", "GET /fizzbuzz/{n}", before_ms=_jitter(rng, 1), version="2.0.0",
                    error=failing or other_fail,
                    attributes={"http.method": "GET", "traffic.type": rng.choice(("user", "synthetic"))},
                    children=[client_server("hub", "fizzer", "GET /fizz", _jitter(rng, 3), version="1.1.0",
                                            error=other_fail), call])
    return build


def funnel() -> Scenario:
    """`ledger` is called from three entry points; 80% of its calls come from `POST /batch`."""

    def build(rng: random.Random, index: int) -> Call:
        r = rng.random()
        if r < 0.8:
            return Call("gateway", "POST /batch", before_ms=_jitter(rng, 1), children=[
                client_server("gateway", "importer", "POST /import", _jitter(rng, 5), children=[
                    client_server("importer", "ledger", "POST /entries", _jitter(rng, 6))])])
        if r < 0.9:
            return Call("gateway", "GET /balance", before_ms=_jitter(rng, 1), children=[
                client_server("gateway", "ledger", "GET /entries", _jitter(rng, 3))])
        return Call("gateway", "POST /transfer", before_ms=_jitter(rng, 1), children=[
            client_server("gateway", "ledger", "POST /entries", _jitter(rng, 6)),
            client_server("gateway", "notify", "POST /email", _jitter(rng, 4))])
    return build


def mixed() -> Scenario:
    """All of the above interleaved: the benchmark's store (about 5 spans per trace on average)."""
    parts = (fbaas(fizzer_delay_ms=50.0, delayed_share=0.1), slow_route(), slow_attribute(), bad_version(), funnel())

    def build(rng: random.Random, index: int) -> Call:
        return parts[index % len(parts)](rng, index // len(parts))
    return build
