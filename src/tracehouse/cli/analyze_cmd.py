"""`tracehouse analyze NAME`: the analyses beyond the trace view, printed as a table or JSON.

The command only gathers string parameters and hands them to the query layer's `Analyses.run`,
directly (store opened read-only) or through a running backend's /api/analyze/NAME: both paths
compute the same Report, so the CLI, the API and the UI show the same numbers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import httpx

from tracehouse.analytics.report import Report, render_text
from tracehouse.cli.runtime import runtime
from tracehouse.cli.target import http_options, resolve_target
from tracehouse.query.analyses import Analyses, AnalysisError, Params
from tracehouse.store import StoreError


def fetch_report(ctx: click.Context | None, name: str, params: Params, data: Path | None = None,
                 url: str | None = None) -> Report:
    """The report of analysis `name`, from the backend at `url` (or the one serving `data`), else
    from the store in `data` opened read-only."""
    if ctx is not None and ctx.meta.get("baseline"):
        params = {**params, **ctx.meta["baseline"]}
    if ctx is not None and ctx.meta.get("reconstructed"):
        params = {**params, "reconstructed": ctx.meta["reconstructed"]}
    target = resolve_target(data, url)
    if target.url:
        return fetch_remote(target.url, name, params, target.http)
    if ctx is None:
        raise click.ClickException("no backend is running for this data directory")
    service = runtime(ctx).open_query_service(target.settings, read_only=True)
    try:
        return Analyses(service.store).run(name, params)
    except (AnalysisError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        service.close()


def fetch_remote(url: str, name: str, params: Params, http: dict[str, Any] | None = None) -> Report:
    query: list[tuple[str, str | int | float | bool | None]] = [
        (k, v) for k, vs in params.items() for v in ([vs] if isinstance(vs, str) else vs)]
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/analyze/{name}", params=query, timeout=300.0,
                             **(http_options() if http is None else http))
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the backend at {url}: {exc}") from exc
    body: dict[str, Any] = response.json()
    if response.status_code != 200:
        raise click.ClickException(str(body.get("error", f"HTTP {response.status_code}")))
    return Report.from_json(body)


def emit(report: Report, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(render_text(report))


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--data/--url/--format and the window and filters every analysis takes."""
    options = [
        click.option("--data", type=click.Path(path_type=Path, file_okay=False),
                     help="Data directory of the store [env TRACEHOUSE_DATA; default ./.tracehouse]."),
        click.option("--url", metavar="URL", help="Ask a running backend at this address instead."),
        click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True),
        click.option("--since", metavar="DURATION", help="Only the last DURATION (15m, 1h, 7d)."),
        click.option("--start", metavar="TIME", help="Window start (ISO-8601 or unix seconds)."),
        click.option("--end", metavar="TIME", help="Window end (ISO-8601 or unix seconds)."),
        click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE",
                     help="Only traces carrying this span or resource attribute (repeatable, up to 4)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def base_params(since: str | None, start: str | None, end: str | None, attrs: tuple[str, ...],
                **extra: str | None) -> dict[str, str | list[str]]:
    params: dict[str, str | list[str]] = {k: v for k, v in
                                          {"since": since, "start": start, "end": end, **extra}.items() if v}
    if attrs:
        params["attr"] = list(attrs)
    return params


def baseline_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--baseline / --baseline-start / --baseline-end: rank the rows by their change against the
    baseline (kept in the context's meta and added to the request by fetch_report)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, baseline: str | None = None, baseline_start: str | None = None,
                baseline_end: str | None = None, **kwargs: Any) -> Any:
        chosen = {k: v for k, v in (("baseline", baseline), ("baseline_start", baseline_start),
                                    ("baseline_end", baseline_end)) if v}
        click.get_current_context().meta["baseline"] = chosen
        return fn(*args, **kwargs)

    options = [
        click.option("--baseline", metavar="DURATION",
                     help="Compare with the DURATION before the window (e.g. 1h); rows ranked by the change."),
        click.option("--baseline-start", metavar="TIME", help="Compare with a baseline from TIME."),
        click.option("--baseline-end", metavar="TIME", help="...to TIME [default: the window's start]."),
    ]
    out: Callable[..., Any] = wrapper
    for option in reversed(options):
        out = option(out)
    return out


def reconstructed_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--reconstructed include|exclude|only: what the analysis does with traces that inferred links
    join (kept in the context's meta and added to the request by fetch_report)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, reconstructed: str | None = None, **kwargs: Any) -> Any:
        if reconstructed:
            click.get_current_context().meta["reconstructed"] = reconstructed
        return fn(*args, **kwargs)

    return click.option(
        "--reconstructed", type=click.Choice(["received", "include", "exclude", "only"]),
        help="Traces joined by inferred links (tracehouse reconstruct): read as received (fragments "
             "apart), whole, left out, or alone [default: received]. The output says which.")(wrapper)


def _filter_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--operation", help="Only traces with a span of this operation.")(fn)
    return click.option("--service", help="Only traces with a span of this service.")(fn)


@click.group()
def analyze() -> None:
    """Analyses across many traces: routes, origins, latency, compare, errors.

    Each takes a time window (--since, --start/--end) and filters (--service, --operation,
    --attr KEY=VALUE), reads the store given by --data (or asks the backend given by --url), and
    prints a table (--format json for the full result). The same analyses are at /analyze in the UI
    and /api/analyze/NAME over HTTP.
    """


@analyze.command()
@common_options
@_filter_options
@click.option("--slowest", metavar="PERCENT", help="Compare the routes of the slowest PERCENT (e.g. 5%) with all.")
@click.option("--sample", type=click.IntRange(min=1), metavar="N",
              help="Group a fixed sample of about N traces (faster on a large store) [default 10000].")
@baseline_options
@reconstructed_option
@click.pass_context
def paths(ctx: click.Context, data: Path | None, url: str | None, fmt: str, since: str | None, start: str | None,
          end: str | None, attrs: tuple[str, ...], service: str | None, operation: str | None,
          slowest: str | None, sample: int | None) -> None:
    """Group traces by route (the tree of service:operation calls): count, p50/p95/p99, error rate."""
    params = base_params(since, start, end, attrs, service=service, operation=operation, slowest=slowest,
                         sample=str(sample) if sample else None)
    emit(fetch_report(ctx, "paths", params, data, url), fmt)


@analyze.command()
@common_options
@click.argument("service")
@click.option("--operation", help="Only calls into this operation of SERVICE.")
@baseline_options
@reconstructed_option
@click.pass_context
def origins(ctx: click.Context, data: Path | None, url: str | None, fmt: str, since: str | None, start: str | None,
            end: str | None, attrs: tuple[str, ...], service: str, operation: str | None) -> None:
    """Where calls into SERVICE come from: upstream call chains and entry points, with latency."""
    params = base_params(since, start, end, attrs, service=service, operation=operation)
    emit(fetch_report(ctx, "origins", params, data, url), fmt)


@analyze.command()
@common_options
@_filter_options
@click.option("--what-if", "what_if", metavar="SERVICE[:OP]=-100ms|-50%",
              help="Predict root p50/p95 if that work were faster.")
@click.option("--sample", type=click.IntRange(min=1), metavar="N",
              help="Traces whose critical paths are computed [default 3000].")
@baseline_options
@reconstructed_option
@click.pass_context
def latency(ctx: click.Context, data: Path | None, url: str | None, fmt: str, since: str | None, start: str | None,
            end: str | None, attrs: tuple[str, ...], service: str | None, operation: str | None,
            what_if: str | None, sample: int | None) -> None:
    """Each service/operation's share of end-to-end latency (its own time on the critical path)."""
    params = base_params(since, start, end, attrs, service=service, operation=operation, what_if=what_if,
                         sample=str(sample) if sample else None)
    emit(fetch_report(ctx, "latency", params, data, url), fmt)


@analyze.command()
@common_options
@_filter_options
@click.option("--slowest", metavar="PERCENT", help="Select the slowest PERCENT of traces [default 5%].")
@click.option("--min-duration", "min_duration", metavar="DURATION", help="Select traces lasting at least this.")
@click.option("--errors", is_flag=True, help="Select the traces with an error.")
@baseline_options
@reconstructed_option
@click.pass_context
def compare(ctx: click.Context, data: Path | None, url: str | None, fmt: str, since: str | None, start: str | None,
            end: str | None, attrs: tuple[str, ...], service: str | None, operation: str | None,
            slowest: str | None, min_duration: str | None, errors: bool) -> None:
    """Which attribute values are over-represented in slow or erroring traces (like BubbleUp)."""
    if sum((bool(slowest), bool(min_duration), errors)) > 1:
        raise click.UsageError("choose one of --slowest, --min-duration, --errors")
    params = base_params(since, start, end, attrs, service=service, operation=operation, slowest=slowest,
                         min_duration=min_duration, errors="true" if errors else None)
    emit(fetch_report(ctx, "compare", params, data, url), fmt)


@analyze.command()
@common_options
@_filter_options
@baseline_options
@reconstructed_option
@click.pass_context
def errors(ctx: click.Context, data: Path | None, url: str | None, fmt: str, since: str | None, start: str | None,
           end: str | None, attrs: tuple[str, ...], service: str | None, operation: str | None) -> None:
    """Where errors start: own errors per service, version and operation."""
    params = base_params(since, start, end, attrs, service=service, operation=operation)
    emit(fetch_report(ctx, "errors", params, data, url), fmt)
