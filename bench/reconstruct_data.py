"""Generated traces with intact propagation, on several topologies, for the reconstruction benchmark
and tests. Each request runs through a tree of operations; every call between services has network
time on both legs; each service's clock is off by its own skew. The generator then cuts every
cross-service link (the callee's span starts a trace of its own, as when a service drops
`traceparent`) and keeps the truth beside it.

Topologies (`TOPOLOGIES`): sequential and parallel calls, fan-out to one endpoint, caches that
skip calls, retries whose first attempt reaches nobody, asynchronous hops through a queue, clock
skew. `held_out` was never used while choosing the engine's defaults.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from tracehouse.analytics.reconstruct import CallSpan
from tracehouse.analytics.reconstruct.calls import hints
from tracehouse.model import SPAN_BATCH_SCHEMA, SPAN_KINDS

MS = 1_000_000
T0 = 1_750_000_000 * 10**9


@dataclass
class Op:
    service: str
    name: str
    work_ms: float
    calls: list[Call] = field(default_factory=list)
    parallel: bool = False
    #: the path names one of this many items (`/item/17`), drawn Zipf-like (popular items repeat
    #: across concurrent requests); 0: a fixed path
    items: int = 0
    #: response bodies take one of this many sizes (small JSON answers collide often), the same
    #: for the same item; 0: the size is not recorded
    sizes: int = 0


@dataclass
class Call:
    target: Op
    fanout: int = 1
    skip: float = 0.0          # a cache hit: no call at all
    retry: float = 0.0         # the first attempt fails fast and reaches nobody, then a retry
    asynchronous: bool = False  # PRODUCER -> queue -> CONSUMER; the caller does not wait


@dataclass
class Topology:
    name: str
    entry: Op
    skew_ms: dict[str, float]
    net_ms: float = 0.4        # median one-way network time
    hints: bool = True         # clients carry server.address:port and url.full, servers url.path
    queue_ms: float = 3.0      # mean queue delay of asynchronous hops
    message_ids: bool = False  # PRODUCER and CONSUMER carry messaging.message.id (OTel messaging conventions)
    request_id: bool = False   # a captured x-request-id header, passed along to every call of a request


def _topologies() -> dict[str, Callable[[random.Random], Topology]]:
    def chain(rng: random.Random) -> Topology:
        c = Op("inventory", "GET /stock", 4, sizes=6)
        b = Op("orders", "GET /order", 3, [Call(c)], sizes=20)
        a = Op("frontend", "GET /checkout", 1.5, [Call(b), Call(Op("pricing", "GET /price", 2, sizes=3))])
        return Topology("chain", a, {"frontend": 0, "orders": 3.0, "inventory": -2.0, "pricing": 1.0},
                        request_id=True)

    def fanout(rng: random.Random) -> Topology:
        item = Op("catalog", "GET /item", 2.5)
        a = Op("gateway", "GET /list", 1, [Call(item, fanout=rng.randint(3, 6)), Call(Op("ads", "GET /ad", 1.5))],
               parallel=True)
        return Topology("fanout", a, {"gateway": 0, "catalog": -4.0, "ads": 2.5}, hints=False)

    def fanout_http(rng: random.Random) -> Topology:
        # the same fan-out as real HTTP clients and servers record it: the item in the path, and
        # response sizes that the same item repeats
        item = Op("catalog", "GET /item/{id}", 2.5, items=300, sizes=40)
        a = Op("gateway", "GET /list", 1, [Call(item, fanout=rng.randint(3, 6)),
                                           Call(Op("ads", "GET /ad", 1.5, sizes=4))], parallel=True)
        return Topology("fanout_http", a, {"gateway": 0, "catalog": -4.0, "ads": 2.5})

    def cache(rng: random.Random) -> Topology:
        db = Op("db", "SELECT", 3)
        profile = Op("profile", "GET /profile", 1, [Call(db, skip=0.6)])
        a = Op("web", "GET /home", 1, [Call(profile, retry=0.15), Call(Op("feed", "GET /feed", 6), skip=0.3)])
        return Topology("cache", a, {"web": 0, "profile": 1.5, "db": -1.0, "feed": 4.0})

    def fbaas(rng: random.Random) -> Topology:
        # the talk's shape: parallel calls to two services with the same client span name
        hub = Op("hub", "POST /", 0.8, [Call(Op("fizzer", "POST /", 3)), Call(Op("buzzer", "POST /", 2))],
                 parallel=True)
        return Topology("fbaas", hub, {"hub": 0, "fizzer": 0.3, "buzzer": -0.2})

    def queue(rng: random.Random) -> Topology:
        mail = Op("mailer", "send", 5, [Call(Op("templates", "GET /tpl", 1.5))])
        api = Op("api", "POST /signup", 2, [Call(Op("users", "INSERT", 2)), Call(mail, asynchronous=True)])
        return Topology("queue", api, {"api": 0, "users": -1.5, "mailer": 6.0, "templates": 0.5}, message_ids=True)

    def held_out(rng: random.Random) -> Topology:
        # a random tree of 5-8 services, mixing every feature, no hints: not used for tuning
        services = [f"svc{i}" for i in range(rng.randint(5, 8))]
        ops = [Op(s, f"op{k}", rng.uniform(0.5, 8)) for k, s in enumerate(services)]
        for k in range(1, len(ops)):
            parent = ops[rng.randrange(0, k)]
            parent.calls.append(Call(ops[k], fanout=rng.choice([1, 1, 2, 3]), skip=rng.choice([0, 0, 0.3]),
                                     retry=rng.choice([0, 0, 0.1]), asynchronous=rng.random() < 0.15))
            parent.parallel = rng.random() < 0.5
        return Topology("held_out", ops[0], {s: rng.uniform(-8, 8) for s in services},
                        net_ms=rng.uniform(0.2, 1.0), hints=False)

    return {"chain": chain, "fanout": fanout, "fanout_http": fanout_http, "cache": cache, "fbaas": fbaas,
            "queue": queue, "held_out": held_out}


TOPOLOGIES = _topologies()
TUNED = ("chain", "fanout", "cache", "fbaas", "queue")


@dataclass
class Generated:
    rows: list[dict[str, object]]                       # spans as sent, cross-service links cut
    truth: dict[tuple[str, str], tuple[str, str] | None]  # every orphan -> its true parent
    request_of: dict[tuple[str, str], str]
    requests: int
    concurrency: float                                  # mean overlapping requests per service
    interchangeable: dict[tuple[str, str], str] = field(default_factory=dict)  # caller span -> class

    def has_evidence(self) -> bool:
        """Whether any span carries an attribute both ends of a call share (`calls.hints`)."""
        return any(any(v is not None for v in hints(str(r["kind"]), r["attributes"]))  # type: ignore[arg-type]
                   for r in self.rows if r["kind"] in ("CLIENT", "PRODUCER"))

    def call_spans(self) -> list[CallSpan]:
        return [to_call_span(r) for r in self.rows if r["kind"] in ("SERVER", "CLIENT", "PRODUCER", "CONSUMER")]

    def table(self) -> pa.Table:
        return to_table(self.rows)


def to_call_span(r: dict[str, object]) -> CallSpan:
    kind = str(r["kind"])
    attrs = r["attributes"]
    assert isinstance(attrs, dict)
    parent = str(r["parent_span_id"]) if r["parent_span_id"] else None
    start, end = r["start"], r["end"]
    assert isinstance(start, int) and isinstance(end, int)
    return CallSpan(str(r["trace_id"]), str(r["span_id"]), parent, str(r["service"]), str(r["name"]), kind, start, end,
                    *hints(kind, attrs))


def to_table(rows: list[dict[str, object]]) -> pa.Table:
    import json
    cols: dict[str, list[object]] = {name: [] for name in SPAN_BATCH_SCHEMA.names}
    for r in rows:
        cols["trace_id"].append(bytes.fromhex(str(r["trace_id"])))
        cols["span_id"].append(bytes.fromhex(str(r["span_id"])))
        cols["parent_span_id"].append(bytes.fromhex(str(r["parent_span_id"])) if r["parent_span_id"] else None)
        cols["trace_state"].append(None)
        cols["service_name"].append(r["service"])
        cols["span_name"].append(r["name"])
        cols["span_kind"].append(SPAN_KINDS.index(str(r["kind"])))
        cols["start_time_unix_nano"].append(r["start"])
        cols["end_time_unix_nano"].append(r["end"])
        cols["status_code"].append(2 if r.get("error") else 0)
        cols["status_message"].append(None)
        cols["attributes"].append(json.dumps(r["attributes"]))
        cols["resource_attributes"].append(json.dumps({"service.name": r["service"]}))
        cols["events"].append(None)
        cols["links"].append(None)
        cols["scope_name"].append("reconstruct-bench")
        cols["scope_version"].append(None)
        for values in cols.values():  # columns this generator has nothing for (e.g. flags)
            if len(values) < len(cols["trace_id"]):
                values.append(None)
    return pa.table(cols, schema=SPAN_BATCH_SCHEMA)


def _zipf(n: int) -> list[float]:
    """Cumulative weights of Zipf's law over n items (item k is 1/k as popular as item 1)."""
    total, out = 0.0, []
    for k in range(1, n + 1):
        total += 1 / k
        out.append(total)
    return out


class _Run:
    def __init__(self, topo: Topology, rng: random.Random, propagated: float) -> None:
        self.topo = topo
        self.rng = rng
        self.propagated = propagated
        self.rows: list[dict[str, object]] = []
        self.truth: dict[tuple[str, str], tuple[str, str] | None] = {}
        self.request_of: dict[tuple[str, str], str] = {}
        self.busy: dict[str, float] = {}
        self.ports = {s: 7000 + i for i, s in enumerate(sorted(topo.skew_ms))}
        # sibling calls from one span to one endpoint: same class (see scoring.score)
        self.interchangeable: dict[tuple[str, str], str] = {}
        self.header: dict[str, object] = {}

    def _id(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def _net(self) -> int:
        return int(self.topo.net_ms * MS * self.rng.lognormvariate(0, 0.35))

    def _emit(self, trace: str, span: str, parent: str | None, service: str, name: str, kind: str,
              start: int, end: int, attrs: dict[str, object], error: bool = False) -> None:
        skew = int(self.topo.skew_ms.get(service, 0.0) * MS)
        self.rows.append({"trace_id": trace, "span_id": span, "parent_span_id": parent, "service": service,
                          "name": name, "kind": kind, "start": start + skew, "end": end + skew,
                          "attributes": attrs, "error": error})

    def request(self, start: int, request_id: str) -> None:
        cut = self.rng.random() >= self.propagated
        trace = self._id(128)
        self.header = {"http.request.header.x-request-id": [self._id(64)]} if self.topo.request_id else {}
        self.op(self.topo.entry, start, trace, None, None, request_id, cut, "SERVER")

    def op(self, op: Op, start: int, trace: str, parent: str | None, caller: tuple[str, str] | None,
           request_id: str, cut: bool, kind: str, extra: dict[str, object] | None = None) -> int:
        rng = self.rng
        span = self._id(64)
        if parent is None:
            self.truth[(trace, span)] = caller
            self.request_of[(trace, span)] = request_id
        t = start + int(op.work_ms * 0.4 * MS * rng.lognormvariate(0, 0.5))
        ends = [t]
        stagger = 0
        for call in op.calls:
            if call.skip and rng.random() < call.skip:
                t += int(0.1 * MS)
                continue
            for _ in range(call.fanout):
                at = t + stagger if op.parallel else t
                end = self.call(op, call, at, trace, span, request_id, cut)
                ends.append(end)
                if op.parallel:
                    stagger += int(0.03 * MS * rng.lognormvariate(0, 0.5))
                else:
                    t = end + int(0.15 * MS * rng.lognormvariate(0, 0.6))   # call end -> next call
        end = max(ends) + int(op.work_ms * 0.6 * MS * rng.lognormvariate(0, 0.5))
        attrs: dict[str, object] = {"request.size": rng.randint(10, 5000), **(extra or {})}
        if self.topo.hints and "url.path" not in attrs and kind == "SERVER":
            attrs["url.path"] = "/" + op.name.split(" ")[-1].strip("/")
        if self.topo.hints and kind == "SERVER":
            attrs.update(self.header)
        self._emit(trace, span, parent, op.service, op.name, kind, start, end, attrs)
        self.busy[op.service] = self.busy.get(op.service, 0.0) + (end - start)
        return end

    def call(self, caller: Op, call: Call, start: int, trace: str, parent: str, request_id: str, cut: bool) -> int:
        rng, target = self.rng, call.target
        attrs: dict[str, object] = {}
        served: dict[str, object] = {}
        if self.topo.hints and not call.asynchronous:
            port = self.ports[target.service]
            path = "/" + target.name.split(" ")[-1].strip("/")
            item = 0
            if target.items:
                item = rng.choices(range(1, target.items + 1), cum_weights=_zipf(target.items))[0]
                path = path.replace("{id}", str(item))
            attrs = {"server.address": target.service, "server.port": port,
                     "url.full": f"http://{target.service}:{port}{path}", **self.header}
            served = {"url.path": path, "server.address": target.service, "server.port": port}
            if target.sizes:
                size = 200 + 37 * ((item * 7919) % target.sizes if target.items else rng.randrange(target.sizes))
                attrs["http.response.body.size"] = served["http.response.body.size"] = size
        elif self.topo.hints:
            attrs = {"messaging.system": "rabbitmq", "messaging.destination.name": target.service}
            served = dict(attrs)
            if self.topo.message_ids:
                attrs["messaging.message.id"] = served["messaging.message.id"] = self._id(128)
        if call.retry and rng.random() < call.retry:
            failed = start + int(0.8 * MS * rng.lognormvariate(0, 0.3))
            self._emit(trace, self._id(64), parent, caller.service, "GET", "CLIENT", start, failed, attrs, error=True)
            start = failed + int(2 * MS)
        span = self._id(64)
        self.interchangeable[(trace, span)] = f"{parent}/{target.service}/{target.name}"
        child_trace, child_parent = (self._id(128), None) if cut else (trace, span)
        if call.asynchronous:
            end = start + int(0.3 * MS * rng.lognormvariate(0, 0.3))
            self._emit(trace, span, parent, caller.service, "publish", "PRODUCER", start, end, attrs)
            consume = end + int(rng.expovariate(1 / (self.topo.queue_ms * MS)))
            self.op(target, consume, child_trace, child_parent, (trace, span), request_id, cut, "CONSUMER", served)
            return end
        server_end = self.op(target, start + self._net(), child_trace, child_parent, (trace, span), request_id,
                             cut, "SERVER", served)
        end = server_end + self._net()
        self._emit(trace, span, parent, caller.service, "GET", "CLIENT", start, end, attrs)
        return end


def generate(topology: str, requests: int, concurrency: float, seed: int = 1, propagated: float = 0.0,
             evidence: bool = True) -> Generated:
    """`requests` requests of `topology` arriving as a Poisson process whose rate makes the mean number
    of overlapping requests per service about `concurrency`; `propagated` of them keep their links.
    Without `evidence`, spans carry none of the attributes both ends of a call share: timing alone."""
    rng = random.Random(seed)
    topo = TOPOLOGIES[topology](rng)
    if not evidence:
        topo.hints = False
    # Measure the mean busy time a request brings each service, to pick the arrival rate.
    probe = _Run(topo, random.Random(seed + 1), 1.0)
    for k in range(200):
        probe.request(T0 + k * 10**9, f"p{k}")
    per_request = sum(probe.busy.values()) / len(probe.busy) / 200
    rate = concurrency / per_request  # requests per ns
    run = _Run(topo, rng, propagated)
    t = T0
    for k in range(requests):
        t += int(rng.expovariate(rate)) + 1
        run.request(t, f"r{k}")
    span_ns = max(int(r["end"]) for r in run.rows) - T0  # type: ignore[call-overload]
    measured = sum(run.busy.values()) / len(run.busy) / span_ns
    run.rows.sort(key=lambda r: int(r["start"]))  # type: ignore[call-overload]
    return Generated(run.rows, run.truth, run.request_of, requests, measured, run.interchangeable)
