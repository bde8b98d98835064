"""Evidence both ends of a call carry, one test per kind: message ids (OTel messaging conventions put
`messaging.message.id` on PRODUCER and CONSUMER), captured request-id headers, response body sizes,
and item paths. Each is read from the attribute names real SDKs send, and each is shown to change
the outcome against the same data with timing alone."""

from __future__ import annotations

from bench.reconstruct_data import generate

from tracehouse.analytics.reconstruct import CallSpan, fcfs_baseline, reconstruct
from tracehouse.analytics.reconstruct.calls import hints
from tracehouse.analytics.reconstruct.scoring import score

MS = 1_000_000


def test_hints_read_the_names_sdks_send() -> None:
    new = hints("PRODUCER", {"messaging.message.id": "a1", "messaging.destination.name": "mail"})
    old = hints("CONSUMER", {"messaging.message_id": "a1", "messaging.destination.name": "mail"})  # Celery, pika
    assert new.correlation == old.correlation == "m:a1"
    header = hints("CLIENT", {"http.request.header.x-request-id": ["r-9"], "url.full": "http://x:80/a"})
    assert header.correlation == hints("SERVER", {"http.request.header.x-request-id": ["r-9"]}).correlation == "h:r-9"
    assert hints("CLIENT", {"http.response.body.size": 512}).response_size == 512
    assert hints("SERVER", {"http.response_content_length": "512"}).response_size == 512
    assert hints("CLIENT", {"http.response.body.size": True}).response_size is None
    assert hints("CLIENT", {"url.full": "http://catalog:7001/item/17?x=1"}).path == "/item/17"
    assert hints("SERVER", {"url.path": "/item/17"}).path == "/item/17"
    assert hints("SERVER", {}).correlation is None


def _by_edge(data_name: str, evidence: bool) -> float:
    data = generate(data_name, 400, 8.0, seed=51, evidence=evidence)
    spans = data.call_spans()
    consumers = {(s.trace_id, s.span_id) for s in spans if s.kind == "CONSUMER"}
    links = {(k.child_trace_id, k.child_span_id): (k.parent_trace_id, k.parent_span_id)
             for k in reconstruct(spans).links}
    right = sum(1 for c in consumers if links.get(c) == data.truth[c])
    return right / len(consumers)


def test_message_ids_join_queue_hops_that_timing_cannot() -> None:
    with_ids, timing_alone = _by_edge("queue", True), _by_edge("queue", False)
    assert with_ids >= 0.99
    assert timing_alone < 0.6  # exponential queue delays at 8 overlapping requests: ambiguous


def test_one_message_consumed_twice_joins_its_producer_twice() -> None:
    """Publish/subscribe: two consumers of one message both hang under its producer; a consumer
    whose id no producer carries is left to timing, and an id of another producer never matches."""
    t0 = 10**18
    producer = CallSpan("a" * 32, "1" * 16, "f" * 16, "api", "publish", "PRODUCER", t0, t0 + MS, correlation="m:42")
    other = CallSpan("b" * 32, "2" * 16, "e" * 16, "api", "publish", "PRODUCER", t0, t0 + MS, correlation="m:43")
    first = CallSpan("c" * 32, "3" * 16, None, "mailer", "send", "CONSUMER", t0 + 2 * MS, t0 + 5 * MS,
                     correlation="m:42")
    second = CallSpan("d" * 32, "4" * 16, None, "audit", "record", "CONSUMER", t0 + 900 * MS, t0 + 901 * MS,
                      correlation="m:42")
    result = reconstruct([producer, other, first, second])
    parents = {k.child_span_id: k.parent_span_id for k in result.links}
    assert parents == {"3" * 16: "1" * 16, "4" * 16: "1" * 16}
    assert all(k.confidence >= 0.99 for k in result.links)


def test_a_shared_request_id_narrows_calls_to_their_request() -> None:
    """chain: a request-id captured on every call of a request (services pass it along), so it
    names the request, not the call: it rules out every other request's calls."""
    data = generate("chain", 400, 8.0, seed=52)
    assert any("http.request.header.x-request-id" in r["attributes"] for r in data.rows)  # type: ignore[operator]
    timing = generate("chain", 400, 8.0, seed=52, evidence=False)
    ours = score(reconstruct(data.call_spans()).links, data.truth, data.request_of)
    alone = score(reconstruct(timing.call_spans()).links, timing.truth, timing.request_of)
    assert ours.link_accuracy >= 0.99 and ours.trace_accuracy >= 0.97, ours
    assert ours.trace_accuracy > alone.trace_accuracy, (ours, alone)


def test_response_sizes_rule_out_a_call_timing_prefers() -> None:
    """Two calls whose timing fits the orphan; the better-timed one returned a different number of
    bytes than the server sent, so the other is chosen."""
    t0 = 10**18
    close = CallSpan("a" * 32, "1" * 16, "f" * 16, "web", "GET", "CLIENT", t0, t0 + 10 * MS, response_size=900)
    fair = CallSpan("b" * 32, "2" * 16, "e" * 16, "web", "GET", "CLIENT", t0 + MS // 2, t0 + 10 * MS + MS // 3,
                    response_size=1200)
    server = CallSpan("c" * 32, "3" * 16, None, "feed", "GET /feed", "SERVER", t0 + MS // 10,
                      t0 + 10 * MS - MS // 10, response_size=1200)
    (link,) = reconstruct([close, fair, server]).links
    assert link.parent_span_id == "2" * 16
    without = CallSpan("c" * 32, "3" * 16, None, "feed", "GET /feed", "SERVER", t0 + MS // 10, t0 + 10 * MS - MS // 10)
    (guess,) = reconstruct([close, fair, without]).links
    assert guess.parent_span_id == "1" * 16  # timing alone picks the other one


def test_item_paths_and_sizes_untangle_fan_out_at_high_concurrency() -> None:
    """fanout_http: a gateway fetching 3-6 items in parallel, as HTTP clients and servers record it
    (the item in the path, popular items repeating across requests; response sizes repeating per
    item). Timing alone swaps identical siblings; with the evidence both ends carry it does not."""
    data = generate("fanout_http", 400, 8.0, seed=53)
    assert data.concurrency > 6
    spans = data.call_spans()
    ours = score(reconstruct(spans).links, data.truth, data.request_of)
    fcfs = score(fcfs_baseline(spans), data.truth, data.request_of)
    timing = generate("fanout_http", 400, 8.0, seed=53, evidence=False)
    alone = score(reconstruct(timing.call_spans()).links, timing.truth, timing.request_of)
    assert ours.link_accuracy >= 0.95 and ours.trace_accuracy >= 0.85, ours
    assert ours.trace_accuracy >= fcfs.trace_accuracy + 0.3, (ours, fcfs)
    assert ours.trace_accuracy >= alone.trace_accuracy + 0.3, (ours, alone)


def test_queries_and_status_codes_as_the_python_instrumentations_record_them() -> None:
    """requests/urllib3 record `http.url` (with the query) and `http.status_code`; httpx `url.full`
    and `http.response.status_code`; Flask (WSGI) `http.target` with the query; FastAPI (ASGI)
    `url.path` and `url.query` apart. Both ends of one call read the same query and status."""
    requests_client = hints("CLIENT", {"http.url": "http://svc4:7004/search?id=17", "http.status_code": 404})
    httpx_client = hints("CLIENT", {"url.full": "http://svc4:7004/search?id=17", "server.address": "svc4",
                                    "server.port": 7004, "http.response.status_code": 404})
    flask_server = hints("SERVER", {"http.target": "/search?id=17", "http.host": "svc4:7004", "http.status_code": 404})
    fastapi_server = hints("SERVER", {"url.path": "/search", "url.query": "id=17", "server.port": 7004,
                                      "http.response.status_code": 404})
    for side in (requests_client, httpx_client, flask_server, fastapi_server):
        assert (side.path, side.query, side.status) == ("/search", "id=17", 404), side
    assert hints("SERVER", {"url.path": "/search"}).query == ""  # the stable conventions omit an empty query
    # ASGI's old conventions: the path alone in http.target, the query in the server's http.url
    old_asgi = hints("SERVER", {"http.target": "/search", "http.url": "http://svc4:7004/search?id=17",
                                "http.status_code": 404})
    assert (old_asgi.path, old_asgi.query) == ("/search", "id=17")
    assert hints("SERVER", {"http.target": "/search"}).query is None  # WSGI or old ASGI: cannot tell
    # servers record the decoded path, clients the URL as sent
    assert hints("CLIENT", {"http.url": "http://a:1/caf%C3%A9?q=a%20b"})[1:] == \
        hints("SERVER", {"http.target": "/café?q=a b"})[1:]
    assert hints("SERVER", {"http.route": "/search"}).query is None  # nothing recorded: nothing to compare
    assert fastapi_server.target == "*:7004"


def test_a_different_query_or_status_rules_a_call_out() -> None:
    """Two calls whose timing fits the orphan; the better-timed one asked for another id (or got
    another status code) than the server answered, so the other one is chosen."""
    t0 = 10**18
    for field, theirs, ours in (("query", "id=1", "id=2"), ("status", 200, 500)):
        close = CallSpan("a" * 32, "1" * 16, "f" * 16, "web", "GET", "CLIENT", t0, t0 + 10 * MS, **{field: theirs})
        fair = CallSpan("b" * 32, "2" * 16, "e" * 16, "web", "GET", "CLIENT", t0 + MS // 2,
                        t0 + 10 * MS + MS // 3, **{field: ours})
        server = CallSpan("c" * 32, "3" * 16, None, "feed", "GET /feed", "SERVER", t0 + MS // 10,
                          t0 + 10 * MS - MS // 10, **{field: ours})
        (link,) = reconstruct([close, fair, server]).links
        assert link.parent_span_id == "2" * 16, field


def test_the_generator_records_what_python_instrumentations_do() -> None:
    """The benchmark's attributes are the ones the SDKs send, unevenly: old and stable conventions
    side by side, ids in some paths and queries, services without HTTP attributes, 404s and 500s
    marked as errors the way clients (4xx and 5xx) and servers (5xx) mark them; and the same seed
    gives the same timing without them, so timing-only and timing+attributes compare like with like."""
    data = generate("held_out", 300, 2.0, seed=44)
    timing = generate("held_out", 300, 2.0, seed=44, evidence=False)
    assert [(r["start"], r["end"], r["kind"]) for r in data.rows] == [(r["start"], r["end"], r["kind"])
                                                                     for r in timing.rows]
    assert not any(hints(str(r["kind"]), r["attributes"]) != hints("SERVER", {})  # type: ignore[arg-type]
                   for r in timing.rows)
    clients = [r for r in data.rows if r["kind"] == "CLIENT"]
    servers = [r for r in data.rows if r["kind"] == "SERVER"]
    names = {k for r in data.rows for k in r["attributes"]}  # type: ignore[attr-defined]
    assert {"http.url", "url.full"} & names and {"http.target", "url.path"} & names
    assert any(not ({"http.target", "url.path"} & set(r["attributes"])) for r in servers)  # type: ignore[arg-type]
    with_ids = [h for h in (hints("CLIENT", r["attributes"]) for r in clients)  # type: ignore[arg-type]
                if h.query or (h.path and h.path.rstrip("/").split("/")[-1].isdigit())]
    without_http = [r for r in clients if hints("CLIENT", r["attributes"]).path is None]  # type: ignore[arg-type]
    assert with_ids and without_http and len(with_ids) + len(without_http) < len(clients)
    for r in clients:
        recorded = hints("CLIENT", r["attributes"])  # type: ignore[arg-type]
        if recorded.path is not None:  # no status: the connection failed (a retried first attempt)
            assert r["error"] == (recorded.status is None or recorded.status >= 400), r
    for r in servers:
        status = hints("SERVER", r["attributes"]).status  # type: ignore[arg-type]
        if status is not None:
            assert r["error"] == (status >= 500), r
    assert {404, 500} <= {hints("CLIENT", r["attributes"]).status for r in clients}  # type: ignore[arg-type]


def test_sdk_attributes_lift_the_held_out_topology_above_timing_alone() -> None:
    """On `held_out` (never used to choose a default), the attributes the SDKs send both ends of a
    call make the same requests' links more accurate than timing alone, and far above FCFS."""
    data = generate("held_out", 300, 5.0, seed=44)
    timing = generate("held_out", 300, 5.0, seed=44, evidence=False)
    ours = score(reconstruct(data.call_spans()).links, data.truth, data.request_of)
    alone = score(reconstruct(timing.call_spans()).links, timing.truth, timing.request_of)
    fcfs = score(fcfs_baseline(data.call_spans()), data.truth, data.request_of)
    assert ours.link_accuracy > alone.link_accuracy, (ours, alone)
    assert ours.trace_accuracy >= alone.trace_accuracy, (ours, alone)
    assert ours.link_accuracy >= fcfs.link_accuracy + 0.2, (ours, fcfs)
