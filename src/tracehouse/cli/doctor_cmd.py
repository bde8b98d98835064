"""`tracehouse doctor`: a short plain-language report from the analyses (routes, critical path,
attributes of slow and erroring requests, error hot spots). `tracehouse demo` ends with it."""

from __future__ import annotations

from pathlib import Path

import click

from tracehouse.analytics.report import Report
from tracehouse.cli.analyze_cmd import base_params, common_options, emit, fetch_remote, fetch_report
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


def render_doctor(report: Report) -> str:
    lines = ["tracehouse doctor", "================="]
    topic = None
    for row in report.rows:
        if row["topic"] != topic:
            topic = row["topic"]
            lines.append(f"{topic}:")
        lines.append(f"  - {row['finding']}")
    if not report.rows:
        lines.append("No traces to diagnose yet.")
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


@click.command()
@common_options
@click.option("--service", help="Only traces with a span of this service.")
@click.pass_context
def doctor(ctx: click.Context, data: Path | None, url: str | None, fmt: str, since: str | None, start: str | None,
           end: str | None, attrs: tuple[str, ...], service: str | None) -> None:
    """A short report of what slows requests down and where errors start."""
    report = fetch_report(ctx, "doctor", base_params(since, start, end, attrs, service=service), data, url)
    if fmt == "json":
        emit(report, fmt)
    else:
        click.echo(render_doctor(report))
