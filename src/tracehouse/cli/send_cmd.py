"""`tracehouse send`: the talk's client loop, and a small load generator for the FBaaS hub.

The client is deliberately untraced: the trace starts at the hub, as it did in the talk. It can mark
its requests with a traffic type, carried in W3C baggage, which every service copies onto its spans.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

DEFAULT_HUB_URL = "http://localhost:6000"
TRAFFIC_TYPE_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Outcome:
    """One request: the hub's answer when `ok`, otherwise what went wrong."""

    number: int
    ok: bool
    text: str
    latency_seconds: float


@dataclass
class SendReport:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed_seconds: float = 0.0

    @property
    def sent(self) -> int:
        return len(self.latencies)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def requests_per_second(self) -> float:
        return self.sent / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000


class HubUnreachable(Exception):
    """No connection could be made to the hub at all."""


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; NaN if empty."""
    if not sorted_values:
        return math.nan
    rank = (len(sorted_values) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def describe_response(response: httpx.Response) -> tuple[bool, str]:
    """(ok, text): the answer string on success, else the status and the hub's error message."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, str):
        return True, body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        detail = body["error"]
    else:
        detail = response.text.strip()[:200] or "(empty body)"
    return False, f"HTTP {response.status_code}: {detail}"


async def _send_one(client: httpx.AsyncClient, url: str, number: int) -> Outcome:
    started = time.perf_counter()
    try:
        response = await client.post(url, json={"number": number})
    except httpx.ConnectError as exc:
        raise HubUnreachable(f"cannot reach the hub at {url}: {exc or 'connection failed'}") from exc
    except httpx.HTTPError as exc:
        return Outcome(number, False, f"{type(exc).__name__}: {exc}".rstrip(": "), time.perf_counter() - started)
    ok, text = describe_response(response)
    return Outcome(number, ok, text, time.perf_counter() - started)


def _numbers_to_send(numbers: Sequence[int], count: int | None, duration: float | None) -> Iterator[int]:
    if count is not None:
        return itertools.islice(itertools.cycle(numbers), count)
    if duration is not None:
        return itertools.cycle(numbers)
    return iter(numbers)


def send_numbers(
    url: str,
    numbers: Sequence[int],
    *,
    concurrency: int = 1,
    count: int | None = None,
    duration: float | None = None,
    traffic: str | None = None,
    timeout_seconds: float = 10.0,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> SendReport:
    """Send each number once (or cycle through them for `count` requests / `duration` seconds).

    `concurrency` requests are in flight at once. Raises HubUnreachable when a connection to the
    hub fails; any other failure is an error outcome.
    """
    return asyncio.run(_send_numbers(url, numbers, concurrency, count, duration, traffic, timeout_seconds,
                                     on_outcome))


async def _send_numbers(
    url: str,
    numbers: Sequence[int],
    concurrency: int,
    count: int | None,
    duration: float | None,
    traffic: str | None,
    timeout_seconds: float,
    on_outcome: Callable[[Outcome], None] | None,
) -> SendReport:
    report = SendReport()
    todo = _numbers_to_send(numbers, count, duration)
    started = time.perf_counter()
    deadline = started + duration if duration is not None else math.inf
    headers = {"baggage": f"traffic.type={traffic}"} if traffic else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        # One shared iterator: workers take the next number as they become free.
        for number in todo:
            if time.perf_counter() >= deadline:
                return
            outcome = await _send_one(client, url, number)
            report.latencies.append(outcome.latency_seconds)
            if not outcome.ok:
                report.errors[outcome.text] += 1
            if on_outcome is not None:
                on_outcome(outcome)

    async with httpx.AsyncClient(timeout=timeout_seconds, limits=limits, headers=headers) as client:
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(concurrency):
                    group.create_task(worker(client))
        except* HubUnreachable as failures:
            raise failures.exceptions[0] from None
    report.elapsed_seconds = time.perf_counter() - started
    return report


def outcome_line(outcome: Outcome) -> Text:
    """The talk's output line: `Sent 3, Received Fizz!`, or the error in red."""
    if outcome.ok:
        return Text(f"Sent {outcome.number}, Received {outcome.text}")
    return Text(f"Sent {outcome.number}, Error: {outcome.text}", style="red")


def print_summary(console: Console, report: SendReport, shown_errors: int = 5) -> None:
    errors = report.error_count
    console.print(
        f"{report.sent} requests in {report.elapsed_seconds:.2f} s ({report.requests_per_second:.1f}/s), "
        f"[{'red' if errors else 'green'}]{errors} error{'s' if errors != 1 else ''}[/]"
    )
    if report.sent:
        console.print(
            f"latency p50 {report.percentile_ms(50):.1f} ms, p95 {report.percentile_ms(95):.1f} ms, "
            f"p99 {report.percentile_ms(99):.1f} ms"
        )
    for message, times in report.errors.most_common(shown_errors):
        console.print(Text(f"  {times}x {message}", style="red"))
    if len(report.errors) > shown_errors:
        console.print(Text(f"  … and {len(report.errors) - shown_errors} other kinds of error", style="red"))


def _check_traffic(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not TRAFFIC_TYPE_PATTERN.fullmatch(value):
        raise click.BadParameter("use letters, digits, '_', '.' or '-' (e.g. user, loadtest, synthetic)")
    return value


@click.command()
@click.argument("first", type=int, default=1)
@click.argument("last", type=int, default=15)
@click.option("--url", default=DEFAULT_HUB_URL, show_default=True, help="The hub's address.")
@click.option("--concurrency", "-c", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Requests in flight at once.")
@click.option("--count", "-n", type=click.IntRange(1), help="Send this many requests, cycling FIRST..LAST.")
@click.option("--duration", "-d", type=click.FloatRange(0, min_open=True),
              help="Send for this many seconds, cycling FIRST..LAST.")
@click.option("--traffic", callback=_check_traffic, metavar="TYPE",
              help="Mark the requests with a traffic type (baggage traffic.type=TYPE): user, loadtest, ...")
@click.option("--timeout", "timeout_seconds", type=click.FloatRange(0, min_open=True), default=10.0,
              show_default=True, help="Seconds to wait for each answer.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
def send(first: int, last: int, url: str, concurrency: int, count: int | None, duration: float | None,
         traffic: str | None, timeout_seconds: float, quiet: bool) -> None:
    """Send the numbers FIRST..LAST (default 1 15) to the FBaaS hub, as the talk's loop does.

    Prints `Sent 3, Received Fizz!` per number, then the latency percentiles and the error count.
    With --count or --duration it becomes a load generator with a progress bar. Exits 1 when any
    request failed or the hub cannot be reached.
    """
    if count is not None and duration is not None:
        raise click.UsageError("give --count or --duration, not both")
    step = 1 if last >= first else -1
    numbers = list(range(first, last + step, step))
    console = Console(highlight=False)
    load_mode = count is not None or duration is not None
    try:
        if load_mode:
            report = _send_with_progress(console, url, numbers, concurrency, count, duration, traffic,
                                         timeout_seconds, quiet)
        else:
            report = send_numbers(url, numbers, concurrency=concurrency, traffic=traffic,
                                  timeout_seconds=timeout_seconds,
                                  on_outcome=None if quiet else lambda o: console.print(outcome_line(o)))
    except HubUnreachable as exc:
        raise click.ClickException(f"{exc}\nIs it running? Start FBaaS with `tracehouse demo`, "
                                   "or `tracehouse fbaas hub` (plus fizzer and buzzer).") from None
    print_summary(console, report)
    if report.error_count:
        raise SystemExit(1)


def _send_with_progress(console: Console, url: str, numbers: Sequence[int], concurrency: int, count: int | None,
                        duration: float | None, traffic: str | None, timeout_seconds: float, quiet: bool
                        ) -> SendReport:
    shown = 0
    started = time.perf_counter()
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, disable=quiet, transient=True) as progress:
        task = progress.add_task("sending", total=count if count is not None else duration)
        errors = 0

        def on_outcome(outcome: Outcome) -> None:
            nonlocal shown, errors
            errors += not outcome.ok
            # Show the first few failures as they happen; the summary counts them all.
            if not outcome.ok and shown < 5 and not quiet:
                shown += 1
                console.print(outcome_line(outcome))
            done = progress.tasks[0].completed + 1 if count is not None else time.perf_counter() - started
            progress.update(task, completed=done, description=f"sending · {errors} errors")

        return send_numbers(url, numbers, concurrency=concurrency, count=count, duration=duration,
                            traffic=traffic, timeout_seconds=timeout_seconds, on_outcome=on_outcome)
