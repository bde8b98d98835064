"""`tracehouse doctor`: what changed in a window against a baseline in time, as ranked suspected
causes with their evidence (tracehouse.analytics.diagnosis). `tracehouse demo` ends with it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from tracehouse.analytics.causes import Cause, Diagnosis
from tracehouse.analytics.report import Report
from tracehouse.cli.analyze_cmd import (
    base_params,
    common_options,
    emit,
    fetch_remote,
    fetch_report,
    reconstructed_option,
)
from tracehouse.query.analyses import Analyses, Params
from tracehouse.query.service import QueryService


def doctor_text(source: QueryService | str, since: str | None = None) -> str:
    """The doctor's report as text, from a query service or a running backend's base URL.

    For `tracehouse demo`: `click.echo(doctor_text("http://127.0.0.1:16686"))`.
    """
    params: Params = {"since": since} if since else {}
    report = (fetch_remote(source, "doctor", params) if isinstance(source, str)
              else Analyses(source.store).run("doctor", params))
    return render_doctor(report)


def _when(ns: int | None) -> str:
    if ns is None:
        return "?"
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cause_lines(c: Cause, base_url: str) -> list[str]:
    tie = " (tie)" if c.tied else ""
    head = f"{c.rank}.{tie} {c.location.label()}: {c.kind}"
    if c.segment is not None:
        head += f", for {c.segment.label()}"
    e = c.effect
    lines = [head]
    if c.kind == "slower":
        lines.append(f"   own time p50 {e.baseline_p50_ms:,.1f} -> {e.incident_p50_ms:,.1f} ms, "
                     f"p95 {e.baseline_p95_ms:,.1f} -> {e.incident_p95_ms:,.1f} ms; "
                     f"~{e.share_affected:.0%} of its requests affected")
    elif c.kind == "errors":
        lines.append(f"   errors starting here: {e.error_rate_before:.1%} -> {e.error_rate_after:.1%} of its requests")
    else:
        lines.append(f"   calls per request: {e.calls_before:g} -> {e.calls_after:g}")
    lines.append(f"   costs {e.impact_ms:,.1f} ms per request of the window; since ~{_when(c.since_ns)} UTC")
    lines.append(f"   evidence: {c.support.incident_traces:,} traces through it in the window, "
                 f"{c.support.baseline_traces:,} in the baseline; q = {c.q_value:.1g} ({c.test})")
    lines.append(f"   see: {base_url.rstrip('/')}{c.link}" + (f"  example trace {c.example_trace_id}"
                                                             if c.example_trace_id else ""))
    return lines


def render_doctor(report: Report, base_url: str = "") -> str:
    lines = ["tracehouse doctor", "================="]
    data = report.params.get("diagnosis")
    if data is None:
        return "\n".join(lines + report.findings)
    d = Diagnosis.from_json(data)
    if d.window_start_ns is not None:
        lines.append(f"window:   {_when(d.window_start_ns)} to {_when(d.window_end_ns)} UTC")
    if d.baseline_how:
        lines.append(f"baseline: {d.baseline_how}")
    lines += [f"traces:   {n.removeprefix('reconstructed traces: ')}" for n in report.notes
              if n.startswith("reconstructed traces: ")]
    lines.append("")
    lines.append(d.verdict if not d.causes else "Suspected causes (by time added per request; equal ranks are ties):")
    for c in d.causes:
        lines += _cause_lines(c, base_url)
    context = report.params.get("context")
    if context:
        lines.append("")
        lines.append(f"{context['title']}:")
        lines += [f"  - {f}" for f in context["findings"]]
    lines.append("")
    lines.append("Looked at:")
    lines += [f"  - {item}" for item in d.looked_at]
    lines += [f"note: {n}" for n in d.notes]
    return "\n".join(lines)


@click.command()
@common_options
@click.option("--service", help="Only traces with a span of this service.")
@click.option("--baseline", metavar="DURATION",
              help="Compare the window with the DURATION before it (e.g. 1h) [default: the window's own length].")
@click.option("--baseline-start", metavar="TIME", help="Compare with a baseline from TIME (ISO-8601 or unix seconds).")
@click.option("--baseline-end", metavar="TIME", help="...to TIME [default: the window's start].")
@click.option("--sample", type=click.IntRange(min=100), metavar="N",
              help="Traces examined on each side (a fixed sample) [default: 2000].")
@reconstructed_option
@click.pass_context
def doctor(ctx: click.Context, data: Path | None, url: str | None, fmt: str, since: str | None, start: str | None,
           end: str | None, attrs: tuple[str, ...], service: str | None, baseline: str | None,
           baseline_start: str | None, baseline_end: str | None, sample: int | None) -> None:
    """What changed in the window against a baseline in time: ranked suspected causes (where, for
    whom, since when), each with its effect size, support and a corrected significance test.

    Without a window, the window is the last third of what is stored and the baseline the rest;
    with one (--since 15m, --start/--end), the baseline is the same length just before it. The
    output says which baseline was used. "Nothing stands out" is a real answer.
    """
    params = base_params(since, start, end, attrs, service=service, baseline=baseline, baseline_start=baseline_start,
                         baseline_end=baseline_end, sample=str(sample) if sample else None)
    report = fetch_report(ctx, "doctor", params, data, url)
    if fmt == "json":
        emit(report, fmt)
    else:
        click.echo(render_doctor(report, url or ""))
