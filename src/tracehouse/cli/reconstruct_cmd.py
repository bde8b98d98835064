"""`tracehouse reconstruct`: rebuild cross-service parent links where trace propagation is broken.

Over a time window, each SERVER/CONSUMER span that arrived without a parent is given the CLIENT/
PRODUCER span that most likely called it, with a confidence (docs/reconstruction.md). The links
are stored beside the spans, never in them; a rerun over the same window replaces its links.
Goes through a running backend when there is one (it holds the store's lock), else opens the store.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import httpx

from tracehouse.analytics.parsing import parse_duration_ns, parse_time_ns
from tracehouse.cli.runtime import runtime
from tracehouse.cli.target import resolve_target
from tracehouse.store import StoreError


def _window(since: str, start: str | None, end: str | None) -> tuple[int, int]:
    try:
        end_ns = parse_time_ns(end) if end else time.time_ns()
        start_ns = parse_time_ns(start) if start else end_ns - parse_duration_ns(since)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if start_ns >= end_ns:
        raise click.UsageError("--start must be before --end")
    return start_ns, end_ns


def _print(report: dict[str, Any]) -> None:
    linked, orphans = int(report["linked"]), int(report["orphans"])
    click.echo(f"{report['spans']:,} call spans read in {report['windows']} window(s), {report['seconds']:.2f}s")
    click.echo(f"{report['received_calls']:,} calls arrived with their parent "
               "(propagation works there; left as they are)")
    click.echo(f"{orphans:,} SERVER/CONSUMER spans arrived without a parent")
    share = f" ({linked / orphans:.0%})" if orphans else ""
    click.echo(f"{linked:,} of them linked to a caller{share}, {report['confident']:,} with confidence >= 0.9")
    if orphans and linked < orphans:
        click.echo(f"{orphans - linked:,} left unlinked: true roots, callers that are not traced, or no "
                   "caller plausible enough")
    if linked:
        click.echo("See them in the UI (inferred links are drawn dashed) or with SQL: "
                   "SELECT * FROM inferred_links / reconstructed_traces")


@click.command()
@click.option("--data", type=click.Path(path_type=Path, file_okay=False),
              help="Data directory of the store [env TRACEHOUSE_DATA; default ./.tracehouse].")
@click.option("--url", metavar="URL", help="Ask the backend at this address (e.g. http://127.0.0.1:16686).")
@click.option("--since", default="1h", show_default=True, metavar="DURATION",
              help="Window: the last DURATION (15m, 1h, 7d), unless --start is given.")
@click.option("--start", metavar="TIME", help="Window start (ISO-8601 or unix seconds).")
@click.option("--end", metavar="TIME", help="Window end (ISO-8601 or unix seconds; default now).")
@click.pass_context
def reconstruct(ctx: click.Context, data: Path | None, url: str | None, since: str, start: str | None,
                end: str | None) -> None:
    """Rebuild parent links that broken trace propagation lost, from timing.

    Traces whose propagation works are left alone; nothing a client sent is changed. The inferred
    links are stored beside the spans with their confidence, and the trace view shows the joined
    trace with those links marked as inferred. Safe to rerun: a window's links are replaced.
    """
    start_ns, end_ns = _window(since, start, end)
    target = resolve_target(data, url)
    if target.url:
        try:
            response = httpx.post(f"{target.url}/api/reconstruct",
                                  params={"start": start_ns // 1000, "end": end_ns // 1000}, timeout=3600.0)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot reach the backend at {target.url}: {exc}") from exc
        body = response.json()
        if response.status_code != 200:
            raise click.ClickException(str(body.get("error", f"HTTP {response.status_code}")))
        _print(body)
        return
    service = runtime(ctx).open_query_service(target.settings, read_only=False)
    try:
        report = service.reconstruct(start_ns, end_ns)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        service.close()
    _print({"windows": report.windows, "spans": report.spans, "orphans": report.orphans, "linked": report.linked,
            "received_calls": report.received_calls, "confident": report.confident, "seconds": report.seconds})
