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
    #: with `items`: the item goes in this query parameter (`/search?id=17`) instead of the path
    query_param: str | None = None


@dataclass
class Call:
    target: Op
    fanout: int = 1
    skip: float = 0.0          # a cache hit: no call at all
    retry: float = 0.0         # the first attempt fails fast and reaches nobody, then a retry
    asynchronous: bool = False  # PRODUCER -> queue -> CONSUMER; the caller does not wait
    #: an asynchronous hop whose producer and consumer record the message id (Celery's task id,
    #: pika with message_id set) or not (Kafka: partition and offset on the consumer only); None:
    #: the topology's `message_ids`
    message_ids: bool | None = None


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
    #: per service, (HTTP client library, server framework) whose OpenTelemetry instrumentation
    #: records its spans (`CLIENT_LIBRARIES`, `SERVER_FRAMEWORKS`); services not named are drawn
    #: at random (with the attribute generator's own random stream)
    sdk: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: draw item ids for operations at random (path or query; some none): the held-out topology
    random_items: bool = False
    #: share of calls answered 404 / 500 (the same code on both ends; error status as the SDKs set it)
    not_found: float = 0.02
    server_errors: float = 0.01


def _topologies() -> dict[str, Callable[[random.Random], Topology]]:
    def chain(rng: random.Random) -> Topology:
        c = Op("inventory", "GET /stock", 4, sizes=6)
        b = Op("orders", "GET /order", 3, [Call(c)], sizes=20)
        a = Op("frontend", "GET /checkout", 1.5, [Call(b), Call(Op("pricing", "GET /price", 2, sizes=3))])
        return Topology("chain", a, {"frontend": 0, "orders": 3.0, "inventory": -2.0, "pricing": 1.0},
                        request_id=True, sdk={"frontend": ("requests", "fastapi"), "orders": ("httpx", "flask"),
                                              "inventory": ("none", "flask"), "pricing": ("none", "fastapi_old")})

    def fanout(rng: random.Random) -> Topology:
        item = Op("catalog", "GET /item", 2.5)
        a = Op("gateway", "GET /list", 1, [Call(item, fanout=rng.randint(3, 6)), Call(Op("ads", "GET /ad", 1.5))],
               parallel=True)
        # no ids anywhere: the calls to one endpoint look the same from both ends
        return Topology("fanout", a, {"gateway": 0, "catalog": -4.0, "ads": 2.5},
                        sdk={"gateway": ("httpx", "fastapi"), "catalog": ("none", "flask"), "ads": ("none", "flask")})

    def fanout_http(rng: random.Random) -> Topology:
        # the same fan-out as real HTTP clients and servers record it: the item in the path, and
        # response sizes that the same item repeats
        item = Op("catalog", "GET /item/{id}", 2.5, items=300, sizes=40)
        a = Op("gateway", "GET /list", 1, [Call(item, fanout=rng.randint(3, 6)),
                                           Call(Op("ads", "GET /ad", 1.5, sizes=4))], parallel=True)
        return Topology("fanout_http", a, {"gateway": 0, "catalog": -4.0, "ads": 2.5},
                        sdk={"gateway": ("httpx", "fastapi"), "catalog": ("none", "fastapi"), "ads": ("none", "flask")})

    def cache(rng: random.Random) -> Topology:
        db = Op("db", "SELECT", 3)
        profile = Op("profile", "GET /profile", 1, [Call(db, skip=0.6)])
        a = Op("web", "GET /home", 1, [Call(profile, retry=0.15), Call(Op("feed", "GET /feed", 6), skip=0.3)])
        return Topology("cache", a, {"web": 0, "profile": 1.5, "db": -1.0, "feed": 4.0},
                        sdk={"web": ("requests", "flask"), "profile": ("urllib3", "flask"), "db": ("none", "none"),
                             "feed": ("none", "fastapi")})

    def fbaas(rng: random.Random) -> Topology:
        # the talk's shape: parallel calls to two services with the same client span name
        hub = Op("hub", "POST /", 0.8, [Call(Op("fizzer", "POST /", 3)), Call(Op("buzzer", "POST /", 2))],
                 parallel=True)
        # fizzer is instrumented by hand (no HTTP attributes), buzzer by the Flask instrumentation
        return Topology("fbaas", hub, {"hub": 0, "fizzer": 0.3, "buzzer": -0.2},
                        sdk={"hub": ("httpx", "fastapi"), "fizzer": ("none", "none"), "buzzer": ("none", "flask")})

    def queue(rng: random.Random) -> Topology:
        mail = Op("mailer", "send", 5, [Call(Op("templates", "GET /tpl", 1.5))])
        api = Op("api", "POST /signup", 2, [Call(Op("users", "INSERT", 2)), Call(mail, asynchronous=True)])
        return Topology("queue", api, {"api": 0, "users": -1.5, "mailer": 6.0, "templates": 0.5}, message_ids=True)

    def held_out(rng: random.Random) -> Topology:
        # a random tree of 5-8 services, mixing every feature: not used for tuning. Its instrumentation
        # (libraries, ids in paths or queries, services without attributes) is drawn at random too.
        services = [f"svc{i}" for i in range(rng.randint(5, 8))]
        ops = [Op(s, f"op{k}", rng.uniform(0.5, 8)) for k, s in enumerate(services)]
        for k in range(1, len(ops)):
            parent = ops[rng.randrange(0, k)]
            parent.calls.append(Call(ops[k], fanout=rng.choice([1, 1, 2, 3]), skip=rng.choice([0, 0, 0.3]),
                                     retry=rng.choice([0, 0, 0.1]), asynchronous=rng.random() < 0.15))
            parent.parallel = rng.random() < 0.5
        return Topology("held_out", ops[0], {s: rng.uniform(-8, 8) for s in services},
                        net_ms=rng.uniform(0.2, 1.0), random_items=True)

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


# What the Python OpenTelemetry instrumentations record on an HTTP call, by library, with their
# default semantic conventions: requests and urllib3 the old ones (http.url: the full URL, with the
# query), httpx the stable ones (url.full, server.address/port); Flask through the WSGI middleware
# (old: http.target is the path and the query, http.host and net.host.port where it was reached),
# FastAPI through the ASGI middleware (stable: url.path and url.query apart, server.address/port;
# "fastapi_old", the old ones: http.target is the path alone, the query only in the server's http.url).
# Both ends record the response's status code; a client marks 4xx and 5xx as errors, a server 5xx
# only. "none": a service instrumented by hand, without those attributes.
CLIENT_LIBRARIES = ("requests", "httpx", "urllib3", "none")
SERVER_FRAMEWORKS = ("flask", "fastapi", "none")


def client_attributes(library: str, method: str, host: str, port: int, path: str, query: str,
                      status: int | None) -> dict[str, object]:
    url = f"http://{host}:{port}{path}" + (f"?{query}" if query else "")
    attrs: dict[str, object]
    if library in ("requests", "urllib3"):
        attrs = {"http.method": method, "http.url": url}
        if status is not None:
            attrs["http.status_code"] = status
    elif library == "httpx":
        attrs = {"http.request.method": method, "url.full": url, "server.address": host, "server.port": port,
                 "network.protocol.version": "1.1"}
        if status is not None:
            attrs["http.response.status_code"] = status
            if status >= 400:
                attrs["error.type"] = str(status)
        else:
            attrs["error.type"] = "httpx.ConnectTimeout"
    else:
        attrs = {}
    return attrs


def server_attributes(framework: str, method: str, host: str, port: int, path: str, route: str, query: str,
                      status: int, peer: int) -> dict[str, object]:
    if framework == "flask":
        return {"http.method": method, "http.server_name": host, "http.scheme": "http", "net.host.port": port,
                "http.host": f"{host}:{port}", "http.target": path + (f"?{query}" if query else ""),
                "net.peer.ip": "10.0.0.7", "net.peer.port": peer, "http.user_agent": "python-requests/2.32.3",
                "http.flavor": "1.1", "http.route": route, "http.status_code": status}
    if framework == "fastapi_old":  # the ASGI middleware with the old conventions: the query only in http.url
        return {"http.method": method, "http.server_name": host, "http.scheme": "http", "net.host.port": port,
                "http.host": f"{host}:{port}", "http.target": path,
                "http.url": f"http://{host}:{port}{path}" + (f"?{query}" if query else ""),
                "net.peer.ip": "10.0.0.7", "net.peer.port": peer, "http.user_agent": "python-httpx/0.27.2",
                "http.flavor": "1.1", "http.route": route, "http.status_code": status}
    if framework == "fastapi":
        attrs: dict[str, object] = {
            "http.request.method": method, "url.scheme": "http", "url.path": path, "server.address": host,
            "server.port": port, "client.address": "10.0.0.7", "client.port": peer,
            "user_agent.original": "python-httpx/0.27.2", "network.protocol.version": "1.1", "http.route": route,
            "http.response.status_code": status}
        if query:
            attrs["url.query"] = query
        if status >= 500:
            attrs["error.type"] = str(status)
        return attrs
    return {}


def _zipf(n: int) -> list[float]:
    """Cumulative weights of Zipf's law over n items (item k is 1/k as popular as item 1)."""
    total, out = 0.0, []
    for k in range(1, n + 1):
        total += 1 / k
        out.append(total)
    return out


class _Run:
    def __init__(self, topo: Topology, rng: random.Random, propagated: float, attr_seed: int = 0) -> None:
        self.topo = topo
        self.rng = rng
        # Attributes (ids, status codes, headers) are drawn from their own stream, so the same seed
        # gives the same timing with and without them: the timing-only and timing+attributes
        # figures of the benchmark come from the same requests.
        self.arng = random.Random(attr_seed * 1_000_003 + 17)
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

    def _attr_id(self, bits: int) -> str:
        return f"{self.arng.getrandbits(bits):0{bits // 4}x}"

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
        self.header = ({"http.request.header.x-request-id": [self._attr_id(64)]}
                       if self.topo.request_id and self.topo.hints else {})
        self.op(self.topo.entry, start, trace, None, None, request_id, cut, "SERVER")

    def _request_line(self, op: Op) -> tuple[str, str, str, str, int]:
        """(method, path, query, route, item) of one request to `op`, ids drawn as the topology says."""
        method, _, route = op.name.partition(" ")
        if not route.startswith("/"):
            method, route = "GET", "/" + op.name.lower()
        if op.items and not op.query_param and "{id}" not in route:
            route += "/{id}"
        item = 0
        if op.items:
            item = self.arng.choices(range(1, op.items + 1), cum_weights=_zipf(op.items))[0]
        query = ""
        if op.query_param and item:
            path = route.replace("/{id}", "")
            query = f"{op.query_param}={item}"
        else:
            path = route.replace("{id}", str(item)) if item else route.replace("/{id}", "")
        return method, path, query, route, item

    def _status(self) -> int:
        draw = self.arng.random()
        if draw < self.topo.server_errors:
            return 500
        if draw < self.topo.server_errors + self.topo.not_found:
            return 404
        return 200

    def op(self, op: Op, start: int, trace: str, parent: str | None, caller: tuple[str, str] | None,
           request_id: str, cut: bool, kind: str, extra: dict[str, object] | None = None,
           error: bool = False) -> int:
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
        if self.topo.hints and caller is None and kind == "SERVER":  # the entry: called from outside
            method, path, query, route, _ = self._request_line(op)
            attrs.update(server_attributes(self.topo.sdk[op.service][1], method, op.service,
                                           self.ports[op.service], path, route, query, 200,
                                           40000 + self.arng.randrange(20000)))
        if self.topo.hints and kind == "SERVER":
            attrs.update(self.header)
        self._emit(trace, span, parent, op.service, op.name, kind, start, end, attrs, error)
        self.busy[op.service] = self.busy.get(op.service, 0.0) + (end - start)
        return end

    def call(self, caller: Op, call: Call, start: int, trace: str, parent: str, request_id: str, cut: bool) -> int:
        rng, target = self.rng, call.target
        attrs: dict[str, object] = {}
        served: dict[str, object] = {}
        status: int | None = None
        library = self.topo.sdk.get(caller.service, ("none", "none"))[0]
        method = "GET"
        if self.topo.hints and not call.asynchronous:
            port = self.ports[target.service]
            method, path, query, route, item = self._request_line(target)
            status = self._status()
            attrs = {**client_attributes(library, method, target.service, port, path, query, status), **self.header}
            served = server_attributes(self.topo.sdk.get(target.service, ("none", "none"))[1], method,
                                       target.service, port, path, route, query, status,
                                       40000 + self.arng.randrange(20000))
            if target.sizes:
                # sizes recorded by a response hook on both ends (no Python HTTP instrumentation does by default)
                size = 200 + 37 * ((item * 7919) % target.sizes if target.items else self.arng.randrange(target.sizes))
                attrs["http.response.body.size"] = served["http.response.body.size"] = size
        elif self.topo.hints:
            attrs = {"messaging.system": "rabbitmq", "messaging.destination.name": target.service,
                     "messaging.operation": "publish"}
            served = {"messaging.system": "rabbitmq", "messaging.destination.name": target.service,
                      "messaging.operation": "process"}
            if self.topo.message_ids if call.message_ids is None else call.message_ids:
                attrs["messaging.message.id"] = served["messaging.message.id"] = self._attr_id(128)
        if call.retry and rng.random() < call.retry:
            failed = start + int(0.8 * MS * rng.lognormvariate(0, 0.3))
            # a connect timeout: no response, so no status code on the client
            refused = {k: v for k, v in attrs.items() if k not in ("http.status_code", "http.response.status_code",
                                                                     "http.response.body.size")}
            if "error.type" in refused:
                refused["error.type"] = "httpx.ConnectTimeout"
            self._emit(trace, self._id(64), parent, caller.service, method, "CLIENT", start, failed, refused,
                       error=True)
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
                             cut, "SERVER", served, error=status is not None and status >= 500)
        end = server_end + self._net()
        self._emit(trace, span, parent, caller.service, method, "CLIENT", start, end, attrs,
                   error=status is not None and status >= 400)
        return end


def _instrument(topo: Topology, rng: random.Random) -> None:
    """Libraries for the services the topology does not name; with `random_items`, ids (in the
    path or the query, or none) for each operation, and message ids recorded or not on each
    asynchronous hop."""
    for service in sorted(topo.skew_ms):
        if service not in topo.sdk:
            topo.sdk[service] = (rng.choice(CLIENT_LIBRARIES), rng.choice(SERVER_FRAMEWORKS))
    if topo.random_items:
        ops, seen = [topo.entry], set()
        while ops:
            op = ops.pop()
            if id(op) in seen:
                continue
            seen.add(id(op))
            op.items = rng.choice([0, 0, 30, 1000])
            if op.items:
                op.query_param = rng.choice([None, "id"])
            for call in op.calls:
                if call.asynchronous:
                    call.message_ids = rng.random() < 0.5
            ops.extend(c.target for c in op.calls)


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
    _instrument(topo, random.Random(seed * 7919 + 3))
    probe = _Run(topo, random.Random(seed + 1), 1.0)
    for k in range(200):
        probe.request(T0 + k * 10**9, f"p{k}")
    per_request = sum(probe.busy.values()) / len(probe.busy) / 200
    rate = concurrency / per_request  # requests per ns
    run = _Run(topo, rng, propagated, attr_seed=seed)
    t = T0
    for k in range(requests):
        t += int(rng.expovariate(rate)) + 1
        run.request(t, f"r{k}")
    span_ns = max(int(r["end"]) for r in run.rows) - T0  # type: ignore[call-overload]
    measured = sum(run.busy.values()) / len(run.busy) / span_ns
    run.rows.sort(key=lambda r: int(r["start"]))  # type: ignore[call-overload]
    return Generated(run.rows, run.truth, run.request_of, requests, measured, run.interchangeable)
