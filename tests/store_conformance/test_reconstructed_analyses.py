"""Analyses over reconstructed traces, and the console's inferred_links / reconstructed_traces views,
on every store, against the embedded store's answers on the same spans and links (the reference).

The topology is not FBaaS: a shop (gateway -> orders -> payments -> ledger, orders -> stock) whose
spans carry a dozen attributes each, where propagation broke on two hops: some payments calls
arrive without a traceparent (a fragment, linked to the orders CLIENT span), and one of those
fragments' ledger call broke again (a fragment of a fragment: two hops). Trace ids are fixed, so
on the 2x2 cluster the parent and fragment traces land on fixed shards; the test checks that some
fragment lives on another shard than the trace it joins.
"""

from __future__ import annotations

import json
import random
import urllib.parse
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tracehouse.model import SPAN_BATCH_SCHEMA, SPAN_KINDS
from tracehouse.store import INFERRED_LINK_SCHEMA, AnalysisFilter
from tracehouse.stores.duckdb import DuckDBStore

from .conftest import StoreFactory, database_for

MS = 10**6
T0 = 1_700_000_000 * 10**9
WINDOW = (T0, T0 + 60_000 * MS)
LATER = (T0 + 120_000 * MS, T0 + 180_000 * MS)   # a window with spans and no links


def _attributes(rng: random.Random, service: str, i: int) -> tuple[str, str]:
    span = {f"app.k{k}": f"v{rng.randrange(4)}" for k in range(10)} | {
        "http.request.method": "POST", "http.response.status_code": rng.choice([200, 200, 201, 503]),
        "app.order": i}
    resource = {"service.name": service, "service.version": f"{service}-1.{i % 2}", "host.name": f"h{i % 3}",
                **{f"deploy.r{k}": "x" * (k + 1) for k in range(10)}}
    compact = (",", ":")   # as the receiver writes attributes
    return json.dumps(span, separators=compact), json.dumps(resource, separators=compact)


class Shop:
    """The spans and links of the scenario, as rows."""

    def __init__(self) -> None:
        self.rng = random.Random(20261202)
        self.spans: list[dict[str, object]] = []
        self.links: list[dict[str, object]] = []
        self.parents: list[str] = []      # traces that fragments join
        self.fragments: list[str] = []
        self.pairs: list[tuple[str, str]] = []   # (fragment, the trace its link points to)
        self.ledger_fragment = ""

    def _id(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def span(self, trace: str, parent: str | None, service: str, name: str, kind: str, a: int, b: int,
             error: bool = False, i: int = 0) -> str:
        span_id = self._id(16)
        attributes, resource = _attributes(self.rng, service, i)
        self.spans.append({
            "trace_id": bytes.fromhex(trace), "span_id": bytes.fromhex(span_id),
            "parent_span_id": bytes.fromhex(parent) if parent else None, "trace_state": None,
            "service_name": service, "span_name": name, "span_kind": SPAN_KINDS.index(kind),
            "start_time_unix_nano": a, "end_time_unix_nano": b, "status_code": 2 if error else 0,
            "status_message": "boom" if error else None, "attributes": attributes, "resource_attributes": resource,
            "events": None, "links": None, "scope_name": "shop", "scope_version": "1", "flags": 0x101,
            "scope_attributes": None, "scope_schema_url": None, "resource_schema_url": None})
        return span_id

    def link(self, child_trace: str, child_span: str, start: int, parent_trace: str, parent_span: str,
             confidence: float, child_service: str, parent_service: str) -> None:
        self.links.append({"child_trace_id": child_trace, "child_span_id": child_span,
                           "child_start_time_unix_nano": start, "parent_trace_id": parent_trace,
                           "parent_span_id": parent_span, "confidence": confidence, "method": "shop-test",
                           "child_service": child_service, "parent_service": parent_service})

    def request(self, i: int, at: int, broken: bool, twice: bool = False) -> None:
        t = at + i * 1000 * MS
        trace = self._id(32)
        failing = i % 4 == 3
        root = self.span(trace, None, "gateway", "POST /checkout", "SERVER", t, t + 90 * MS, failing, i)
        call = self.span(trace, root, "gateway", "POST orders", "CLIENT", t + 2 * MS, t + 85 * MS, failing, i)
        orders = self.span(trace, call, "orders", "POST /orders", "SERVER", t + 4 * MS, t + 80 * MS, failing, i)
        self.span(trace, orders, "orders", "SELECT stock", "CLIENT", t + 6 * MS, t + 12 * MS, i=i)
        pay_call = self.span(trace, orders, "orders", "POST payments", "CLIENT", t + 14 * MS, t + 70 * MS,
                             failing, i)
        pay_trace, pay_parent = (self._id(32), None) if broken else (trace, pay_call)
        pay = self.span(pay_trace, pay_parent, "payments", "POST /pay", "SERVER", t + 16 * MS, t + 68 * MS,
                        failing, i)
        ledger_call = self.span(pay_trace, pay, "payments", "POST ledger", "CLIENT", t + 20 * MS, t + 60 * MS,
                                failing, i)
        ledger_trace, ledger_parent = (self._id(32), None) if twice else (pay_trace, ledger_call)
        ledger = self.span(ledger_trace, ledger_parent, "ledger", "POST /entries", "SERVER", t + 22 * MS,
                           t + 58 * MS, failing, i)
        self.span(ledger_trace, ledger, "ledger", "INSERT entries", "CLIENT", t + 24 * MS, t + 50 * MS, i=i)
        if broken:
            self.parents.append(trace)
            self.fragments.append(pay_trace)
            self.link(pay_trace, pay, t + 16 * MS, trace, pay_call, 0.9 - i / 100, "payments", "orders")
            self.pairs.append((pay_trace, trace))
        if twice:
            self.fragments.append(ledger_trace)
            self.pairs.append((ledger_trace, pay_trace))
            self.ledger_fragment = ledger_trace
            self.link(ledger_trace, ledger, t + 22 * MS, pay_trace, ledger_call, 0.8, "ledger", "payments")

    def batch(self) -> pa.Table:
        return pa.Table.from_pylist(self.spans, schema=SPAN_BATCH_SCHEMA)

    def link_table(self, links: list[dict[str, object]] | None = None) -> pa.Table:
        return pa.Table.from_pylist(self.links if links is None else links, schema=INFERRED_LINK_SCHEMA)


def shop() -> Shop:
    s = Shop()
    for i in range(14):
        s.request(i, WINDOW[0], broken=i in (1, 4, 6, 9, 12), twice=i == 4)
    for i in range(5):   # later, with no broken hop and no link
        s.request(i, LATER[0], broken=False)
    return s


def _stored(store: Any, scenario: Shop) -> None:
    store.write_spans(scenario.batch())
    store.replace_inferred_links(*WINDOW, scenario.link_table())


_REFERENCE_ANSWERS: dict[tuple[str, str], dict[str, object]] = {}


def _reference_answers(reference: DuckDBStore, phase: str, flt: AnalysisFilter,
                       brief: bool = False) -> dict[str, object]:
    """The embedded store's answers, computed once per phase of the scenario (the same spans and links
    for every store factory)."""
    key = (phase, repr(flt) + str(brief))
    if key not in _REFERENCE_ANSWERS:
        _REFERENCE_ANSWERS[key] = _answers(reference, flt, brief)
    return _REFERENCE_ANSWERS[key]


def _answers(store: Any, flt: AnalysisFilter, brief: bool = False) -> dict[str, object]:
    """Every analysis' answer for the filter, in a form to compare across stores (`brief`: the
    selection's figures and the export only)."""
    selection = {"times": store.trace_times(flt), "count": store.count_traces(flt)}
    if brief:
        return selection | {"export": sorted(r["span_id"] for r in store.export_spans(flt).to_pylist())}
    routes = store.route_stats(flt).to_pylist()
    return selection | {
        # route keys are each engine's hashes: compare what they group
        "routes": sorted((r["traces"], r["error_traces"], r["p50_ns"], r["example_trace_id"]) for r in routes),
        "hotspots": sorted(tuple(r.values()) for r in store.error_hotspots(flt).to_pylist()),
        "sample": sorted(tuple(r.values()) for r in store.trace_sample(flt, 100).to_pylist()),
        "causes": len(store.cause_sample(flt, 100)),
        "origins": sorted(tuple(r.values()) for r in store.origin_stats(flt, "ledger").to_pylist()),
        "export": sorted((r["trace_id"], r["span_id"], r["parent_span_id"]) for r in
                         store.export_spans(flt).to_pylist()),
    }


@pytest.fixture
def reference(tmp_path: Path) -> Any:
    ref = DuckDBStore(tmp_path / "reference.duckdb")
    yield ref
    ref.close()


def _shard_of(factory: StoreFactory, service: Any, data_dir: Path, traces: list[str]) -> dict[str, int]:
    """On the cluster, which shard holds each trace's spans. Every replica of each shard is asked: the
    insert reached one of them, and the other may not have fetched the part yet."""
    database = database_for(data_dir)
    where: dict[str, int] = {}
    query = f"SELECT DISTINCT lower(hex(trace_id)) FROM `{database}`.span_data_local"  # noqa: S608
    for shard, replicas in enumerate(service.servers):
        for replica in replicas:
            url = f"http://127.0.0.1:{replica.http_port}/?" + urllib.parse.urlencode({"query": query})
            with urllib.request.urlopen(url, timeout=30) as answer:
                for line in answer.read().decode().split():
                    if line in traces:
                        where[line] = shard
    assert set(where) == set(traces)
    return where


def test_excluded_and_no_link_modes_agree_with_the_embedded_store(
        store: Any, reference: DuckDBStore, factory: StoreFactory, service: Any, data_dir: Path) -> None:
    scenario = shop()
    _stored(store, scenario)
    _stored(reference, scenario)
    if factory.name == "clickhouse-cluster":   # the scenario's point: joins across shards
        shards = _shard_of(factory, service, data_dir, scenario.parents + scenario.fragments)
        assert any(shards[f] != shards[p] for f, p in scenario.pairs)
    for flt in (AnalysisFilter(start_ns=WINDOW[0], end_ns=LATER[1], reconstructed="exclude"),
                AnalysisFilter(reconstructed="exclude", attributes={"host.name": "h1"})):
        assert _answers(store, flt) == _reference_answers(reference, "linked", flt), flt
    for flt in (AnalysisFilter(reconstructed="exclude", service="payments"), AnalysisFilter(reconstructed="received")):
        assert _answers(store, flt, brief=True) == _reference_answers(reference, "linked", flt, brief=True), flt
    excluded = AnalysisFilter(reconstructed="exclude")
    touched = {*scenario.parents, *scenario.fragments}
    # 25 traces (14 requests, 6 fragments, 5 later); 5 joined traces and 6 fragments left out
    assert store.count_traces(excluded) == 25 - 11
    assert not touched & {r["trace_id"] for r in store.export_spans(excluded).to_pylist()}
    # A window with no link of its own: excluding leaves out nothing there.
    later = AnalysisFilter(start_ns=LATER[0], end_ns=LATER[1])
    assert store.count_traces(later) == store.count_traces(replace(later, reconstructed="exclude")) == 5

    # A rerun over the window links all but the first broken request (tombstones, before any merge).
    rerun = [link for link in scenario.links if link["child_trace_id"] != scenario.fragments[0]]
    for s in (store, reference):
        s.replace_inferred_links(*WINDOW, scenario.link_table(rerun))
    assert store.count_traces(excluded) == 25 - 9 == reference.count_traces(excluded)   # 4 + 5 touched
    assert _answers(store, excluded, brief=True) == _reference_answers(reference, "rerun", excluded, brief=True)

    # No links at all: include and exclude are received, only is empty.
    for s in (store, reference):
        s.replace_inferred_links(*WINDOW, scenario.link_table([]))
    received = _answers(store, AnalysisFilter(), brief=True)
    assert _answers(store, AnalysisFilter(reconstructed="include"), brief=True) == received
    assert _answers(store, AnalysisFilter(reconstructed="exclude"), brief=True) == received
    assert store.count_traces(AnalysisFilter(reconstructed="only")) == 0
    assert store.trace_sample(AnalysisFilter(reconstructed="only"), 10).num_rows == 0
    assert store.route_stats(AnalysisFilter(reconstructed="only")).num_rows == 0
    assert _answers(store, AnalysisFilter(reconstructed="only"), brief=True) == \
        _reference_answers(reference, "unlinked", AnalysisFilter(reconstructed="only"), brief=True)


def test_joining_modes_with_links(store: Any, reference: DuckDBStore, factory: StoreFactory, service: Any,
                                  data_dir: Path) -> None:
    """include and only join fragments to the traces they belong to (across the cluster's shards):
    the embedded store's answers."""
    scenario = shop()
    _stored(store, scenario)
    _stored(reference, scenario)
    if factory.name == "clickhouse-cluster":
        shards = _shard_of(factory, service, data_dir, scenario.parents + scenario.fragments)
        assert any(shards[f] != shards[p] for f, p in scenario.pairs)
    included = AnalysisFilter(reconstructed="include")
    assert _answers(store, included) == _reference_answers(reference, "linked", included)
    only = AnalysisFilter(reconstructed="only", service="ledger", attributes={"host.name": "h1"})
    assert _answers(store, only, brief=True) == _reference_answers(reference, "linked", only, brief=True)
    assert sorted(tuple(r.values()) for r in store.error_hotspots(only).to_pylist()) == \
        sorted(tuple(r.values()) for r in reference.error_hotspots(only).to_pylist())
    for mode in ("include", "only"):
        flt = AnalysisFilter(reconstructed=mode)
        # Exports select by the mode and hand back the spans as stored: on every store.
        exported = sorted((r["trace_id"], r["span_id"], r["parent_span_id"])
                          for r in store.export_spans(flt).to_pylist())
        assert exported == sorted((r["trace_id"], r["span_id"], r["parent_span_id"])
                                  for r in reference.export_spans(flt).to_pylist())
        assert len({r[0] for r in exported}) == (25 if mode == "include" else 11)
    # 25 traces received: 6 fragments joined to the 5 traces they belong to
    assert store.count_traces(AnalysisFilter(reconstructed="only")) == 5
    assert store.count_traces(AnalysisFilter(reconstructed="include")) == 19
    sample = store.trace_sample(AnalysisFilter(reconstructed="only"), 100).to_pylist()
    assert {r["trace_id"] for r in sample} == set(scenario.parents)


_LINK_COLUMNS = ("child_trace_id, child_span_id, {start} AS start_ns, parent_trace_id, parent_span_id, "
                 "confidence, method, child_service, parent_service")
_RECONSTRUCTED = ("SELECT trace_id, reconstructed_trace_id, role, hops, min_confidence FROM reconstructed_traces "
                  "ORDER BY role, trace_id")


def _views(store: Any) -> tuple[list[Any], list[Any]]:
    start = "epoch_ns(child_start_time)" if store.sql_dialect() == "duckdb" else "child_start_time_unix_nano"
    links = store.run_sql(f"SELECT {_LINK_COLUMNS.format(start=start)} FROM inferred_links "  # noqa: S608
                          "ORDER BY child_trace_id", 1000, 30).rows
    joined = store.run_sql(_RECONSTRUCTED, 1000, 30).rows
    return ([[*r[:5], round(float(r[5]), 9), *r[6:]] for r in links],
            [[*r[:3], int(r[3]), round(float(r[4]), 9)] for r in joined])


def test_console_views_of_reconstruction_match_the_embedded_store(store: Any, reference: DuckDBStore) -> None:
    scenario = shop()
    _stored(store, scenario)
    _stored(reference, scenario)
    assert {t.name for t in store.sql_catalog()} >= {"inferred_links", "reconstructed_traces"}
    links, joined = _views(store)
    assert (links, joined) == _views(reference)
    assert len(links) == 6
    roles = {(r[0], r[2]): r for r in joined}
    assert {t for t, role in roles if role == "root"} == set(scenario.parents)
    twice = scenario.ledger_fragment   # request 4's ledger fragment: two hops up to its gateway trace
    assert roles[(twice, "fragment")][1:4] == [scenario.parents[1], "fragment", 2]
    # A rerun that drops a link (a tombstone, before merges): both views lose it.
    rerun = [link for link in scenario.links if link["child_trace_id"] != scenario.fragments[0]]
    for s in (store, reference):
        s.replace_inferred_links(*WINDOW, scenario.link_table(rerun))
    links, joined = _views(store)
    assert (links, joined) == _views(reference)
    assert len(links) == 5 and scenario.parents[0] not in {r[0] for r in joined}
