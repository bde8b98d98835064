"""`tracehouse demo --no-propagation`: FBaaS with the hub's traceparent dropped, rebuilt and scored.

The hub stops sending its context to fizzer and buzzer (FBAAS_NO_PROPAGATION), so every request
arrives as three traces: the hub's and two parentless fragments. Under concurrent load the demo then
asks the backend to reconstruct the window and scores the inferred links against the truth the hub
recorded on its CLIENT spans (`fbaas.would_propagate`, `fbaas.downstream`, `fizzbuzz.number`: each
number is sent once, so the number ties a fragment to the hub call that caused it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.table import Table

from tracehouse.analytics.reconstruct import InferredLink
from tracehouse.analytics.reconstruct.scoring import Score, score
from tracehouse.cli.send_cmd import send_numbers

LOAD_REQUESTS = 200
LOAD_CONCURRENCY = 4
FIRST_NUMBER = 1001
DROPPED = ("fizzer", "buzzer")

_HUB_CALLS = ("SELECT trace_id, span_id, attributes::JSON::VARCHAR FROM spans WHERE service_name = 'hub' "
              "AND span_kind = 'CLIENT' AND epoch_ns(start_time) BETWEEN $1 AND $2")
_FRAGMENTS = ("SELECT trace_id, span_id, service_name, attributes::JSON::VARCHAR FROM spans "
              "WHERE service_name IN ('fizzer', 'buzzer') AND span_kind = 'SERVER' AND parent_span_id IS NULL "
              "AND epoch_ns(start_time) BETWEEN $1 AND $2")
_LINKS = ("SELECT child_trace_id, child_span_id, parent_trace_id, parent_span_id, confidence, child_service, "
          "parent_service, epoch_ns(child_start_time) FROM inferred_links "
          "WHERE epoch_ns(child_start_time) BETWEEN $1 AND $2")

SqlRows = Callable[[httpx.Client, str, str, list[int]], list[list[Any]]]


def send_load(hub_url: str) -> tuple[int, int]:
    """LOAD_REQUESTS distinct numbers, LOAD_CONCURRENCY at a time; the window they were sent in."""
    start = time.time_ns()
    send_numbers(hub_url, list(range(FIRST_NUMBER, FIRST_NUMBER + LOAD_REQUESTS)), concurrency=LOAD_CONCURRENCY,
                 traffic="synthetic")
    return start, time.time_ns()


def truth_and_links(client: httpx.Client, query_url: str, sql_rows: SqlRows, start: int,
                    end: int) -> tuple[dict[tuple[str, str], tuple[str, str] | None], dict[tuple[str, str], str],
                                       list[InferredLink]]:
    calls: dict[tuple[str, int], tuple[str, str]] = {}
    for trace_id, span_id, attrs_text in sql_rows(client, query_url, _HUB_CALLS, [start, end]):
        attrs = orjson.loads(attrs_text) if attrs_text else {}
        if "fbaas.would_propagate" in attrs and isinstance(attrs.get("fizzbuzz.number"), int):
            calls[(str(attrs.get("fbaas.downstream")), attrs["fizzbuzz.number"])] = (trace_id, span_id)
    truth: dict[tuple[str, str], tuple[str, str] | None] = {}
    request_of: dict[tuple[str, str], str] = {}
    for trace_id, span_id, service, attrs_text in sql_rows(client, query_url, _FRAGMENTS, [start, end + 10**10]):
        attrs = orjson.loads(attrs_text) if attrs_text else {}
        parent = calls.get((service, attrs.get("fizzbuzz.number", -1)))
        if parent is None:
            continue  # not a request of this load (or its hub span did not arrive)
        truth[(trace_id, span_id)] = parent
        request_of[(trace_id, span_id)] = parent[0]
    links = [InferredLink(r[0], r[1], r[2], r[3], float(r[4]), r[5], r[6], int(r[7]))
             for r in sql_rows(client, query_url, _LINKS, [start, end + 10**10])]
    return truth, request_of, links


def print_score(console: Console, result: Score, fragments: int, seconds: float) -> None:
    console.rule("Traces without propagation, rebuilt")
    linked = result.correct + result.wrong
    console.print(
        f"The hub sent no traceparent to fizzer and buzzer: {result.requests} requests arrived as "
        f"{result.requests} hub traces and {fragments} parentless fragments. Reconstruction "
        f"({seconds:.2f} s) rejoined [bold]{linked}[/] of the {fragments} fragments; "
        f"[bold]{result.correct}[/] to the right hub call ({result.link_accuracy:.1%} of all fragments), "
        f"{result.wrong} to a wrong one. Whole requests rebuilt exactly: "
        f"[bold]{result.requests_whole}[/] of {result.requests} ({result.trace_accuracy:.1%}).")
    table = Table(show_edge=False, title="confidence vs. accuracy (truth: what the hub would have propagated)")
    table.add_column("confidence")
    table.add_column("links", justify="right")
    table.add_column("right", justify="right")
    for b in result.calibration:
        if b.links:
            table.add_row(f"{b.low:.2f}-{min(b.high, 1.0):.2f}", str(b.links), f"{b.accuracy:.1%}")
    console.print(table)


def run_reconstruction_demo(console: Console, client: httpx.Client, query_url: str, hub_url: str,
                            sql_rows: SqlRows) -> Score | None:
    console.print(f"\nSending {LOAD_REQUESTS} requests, {LOAD_CONCURRENCY} at a time, with propagation to "
                  f"{' and '.join(DROPPED)} switched off (FBAAS_NO_PROPAGATION) …")
    start, end = send_load(hub_url)
    expected = 3 * LOAD_REQUESTS
    deadline = time.monotonic() + 30
    count = "SELECT count(*) FROM spans WHERE epoch_ns(start_time) BETWEEN $1 AND $2"
    while int(sql_rows(client, query_url, count, [start, end + 10**10])[0][0]) < expected:
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    with console.status("Reconstructing …"):
        response = client.post(f"{query_url}/api/reconstruct",
                               params={"start": (start - 10**9) // 1000, "end": (end + 10**10) // 1000}, timeout=600)
    if response.status_code != 200:
        console.print(f"[red]Reconstruction failed: {response.text[:300]}[/]")
        return None
    truth, request_of, links = truth_and_links(client, query_url, sql_rows, start, end)
    if not truth:
        console.print("[yellow]No fragments of the load arrived; nothing to score.[/]")
        return None
    result = score(links, truth, request_of)
    print_score(console, result, len(truth), float(response.json()["seconds"]))
    return result
