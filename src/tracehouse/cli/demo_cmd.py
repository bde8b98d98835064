"""`tracehouse demo`: the talk in one command.

Starts the backend and the three FBaaS services as child processes, sends 1..15 through the hub,
reads the spans back over the SQL API and says where the time went (the critical path), then keeps
everything running for the UI until Ctrl-C. Every child runs in its own session, so Ctrl-C reaches
the demo alone and the demo stops the services first (they flush their spans), the backend last.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import click
import httpx
import psutil
from rich.console import Console
from rich.table import Table

from tracehouse.analytics.critical_path import OperationShare, SpanTiming, operation_shares
from tracehouse.analytics.trace_time import timeline
from tracehouse.cli.doctor_cmd import doctor_text
from tracehouse.cli.send_cmd import Outcome, outcome_line, send_numbers
from tracehouse.settings import Settings

DEMO_NUMBERS = range(1, 16)
SPANS_PER_TRACE = 5  # hub SERVER, two hub CLIENT calls, fizzer SERVER, buzzer SERVER
DEMO_TRAFFIC = "synthetic"
STOP_GRACE_SECONDS = 10.0
_DEFAULTS = Settings()


class DemoError(click.ClickException):
    """The demo cannot go on; the message says why and where to look."""


@dataclass(frozen=True)
class PortPlan:
    hub: int
    fizzer: int
    buzzer: int
    otlp_grpc: int
    otlp_http: int
    query: int

    def named(self) -> list[tuple[str, str, int]]:
        """(what, flag, port) of each of the six ports."""
        return [
            ("hub", "--hub-port", self.hub),
            ("fizzer", "--fizzer-port", self.fizzer),
            ("buzzer", "--buzzer-port", self.buzzer),
            ("OTLP/gRPC receiver", "--otlp-grpc-port", self.otlp_grpc),
            ("OTLP/HTTP receiver", "--otlp-http-port", self.otlp_http),
            ("query API and UI", "--query-port", self.query),
        ]


def check_ports(plan: PortPlan, host: str = "127.0.0.1") -> None:
    """Refuse, naming the port and its flag, when a port is taken or given twice."""
    seen: dict[int, str] = {}
    for what, flag, port in plan.named():
        if port in seen:
            raise DemoError(f"port {port} is given to both {seen[port]} and {what}; choose another with {flag}")
        seen[port] = what
    for what, flag, port in plan.named():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # The servers themselves set SO_REUSEADDR, so a port held only by TIME_WAIT is free to them.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as exc:
                reason = "already in use" if exc.errno == errno.EADDRINUSE else f"not available ({exc.strerror})"
                raise DemoError(f"port {port} on {host} ({what}) is {reason}; stop what holds it or choose "
                                f"another port with {flag}") from None


class Child:
    """A child process with its output in a log file, stopped with SIGTERM, then killed."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log: TextIO = log_path.open("w")
        self.process = subprocess.Popen(
            args, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def terminate(self) -> None:
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    def wait_or_kill(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_tree(self.process.pid)
            self.process.wait()
        finally:
            self._log.close()


def kill_tree(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for process in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def wait_healthy(child: Child, url: str, timeout: float) -> None:
    """Poll `url` until it answers 200; fail early, with the child's log, if the child exits."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0) as client:
        while True:
            if not child.running():
                raise DemoError(f"{child.name} exited (status {child.process.returncode}) before it was ready; "
                                f"its log ({child.log_path}):\n{child.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise DemoError(f"{child.name} was not ready after {timeout:.0f} s; see {child.log_path}")
            time.sleep(0.1)


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment minus any OTel or FBaaS settings of the user's, plus the demo's own."""
    own_prefixes = ("OTEL_", "FBAAS_", "FIZZER_", "BUZZER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own_prefixes)}
    env.update(extra)
    return env


def sql_rows(client: httpx.Client, query_url: str, sql: str, params: list[int]) -> list[list[Any]]:
    response = client.post(f"{query_url}/api/sql", json={"sql": sql, "params": params})
    if response.status_code != 200:
        raise DemoError(f"the backend refused the demo's query (HTTP {response.status_code}): {response.text[:300]}")
    rows: list[list[Any]] = response.json()["rows"]
    return rows


# The demo's traces: those rooted at a hub SERVER span that started while the demo was sending
# ($1 .. $2, bound by the SQL endpoint).
_DEMO_SPANS = ("FROM spans s WHERE s.trace_id IN (SELECT trace_id FROM spans WHERE parent_span_id IS NULL "
               "AND service_name = 'hub' AND span_kind = 'SERVER' AND epoch_ns(start_time) BETWEEN $1 AND $2)")
_COUNT_DEMO_SPANS = "SELECT count(*) " + _DEMO_SPANS
_DEMO_SPAN_TIMES = ("SELECT s.trace_id, s.span_id, s.parent_span_id, s.service_name, s.span_name, "
                    "epoch_ns(s.start_time), epoch_ns(s.end_time), s.span_kind " + _DEMO_SPANS)


def wait_for_spans(client: httpx.Client, query_url: str, start_ns: int, end_ns: int, expected: int,
                   timeout: float) -> int:
    """Poll until `expected` spans of the demo's traces are stored (or time is up); the count seen."""
    deadline = time.monotonic() + timeout
    while True:
        count = int(sql_rows(client, query_url, _COUNT_DEMO_SPANS, [start_ns, end_ns])[0][0])
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def fetch_traces(client: httpx.Client, query_url: str, start_ns: int, end_ns: int) -> list[list[SpanTiming]]:
    by_trace: dict[str, list[SpanTiming]] = defaultdict(list)
    rows = sql_rows(client, query_url, _DEMO_SPAN_TIMES, [start_ns, end_ns])
    for trace_id, span_id, parent, service, name, start, end, kind in rows:
        by_trace[trace_id].append(SpanTiming(span_id, parent, service, name, int(start), int(end), str(kind or "")))
    return list(by_trace.values())


def print_report(console: Console, traces: list[list[SpanTiming]], delay_ms: float) -> OperationShare | None:
    """The "where the time went" report; returns the operation that dominates the critical path."""
    # On the one timeline (analytics.trace_time, ADR 13): skew corrected, async work and queue time kept.
    shares = operation_shares([timeline(t)[0] for t in traces])
    if not shares:
        console.print("[yellow]No spans to analyse.[/]")
        return None
    total_ns = sum(s.self_time_ns for s in shares)
    top = shares[0]
    console.print()
    console.rule("Where the time went")
    console.print(
        f"Over {len(traces)} requests the critical path (the work each request waited for) took "
        f"{total_ns / 1e9:.2f} s in all. [bold]{top.service_name} {top.span_name}[/] took "
        f"[bold]{top.share:.0%}[/] of it, {top.self_time_ns / 1e6 / len(traces):.0f} ms per request."
    )
    if top.service_name == "fizzer" and delay_ms > 0:
        console.print(f"That is the bottleneck planted in fizzer ({delay_ms:g} ms, FIZZER_DELAY_MS): "
                      "fix it and every request is that much faster.")
    table = Table(show_edge=False)
    table.add_column("service")
    table.add_column("operation")
    table.add_column("share", justify="right")
    table.add_column("per request", justify="right")
    for share in shares[:6]:
        table.add_row(share.service_name, share.span_name, f"{share.share:.1%}",
                      f"{share.self_time_ns / 1e6 / len(traces):.1f} ms")
    console.print(table)
    return top


@contextlib.contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM end the demo the same way, so the children are stopped either way.
    SIGINT is handled here, not left to Python's default: a process started with SIGINT ignored (a
    background job of a non-interactive shell inherits that) gets no KeyboardInterrupt from Python,
    and the demo would serve on after the Ctrl-C it asks for (the backend handles both signals
    itself, app/server.py)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_children(console: Console, children: list[Child]) -> None:
    # Services first, so their final span flush reaches a backend that is still up.
    services = [c for c in reversed(children) if c.name != "backend"]
    backend = [c for c in children if c.name == "backend"]
    for group in (services, backend):
        if not group:
            continue
        console.print(f"[dim]stopping {', '.join(c.name for c in group)}…[/]")
        for child in group:
            child.terminate()
        for child in group:
            child.wait_or_kill(STOP_GRACE_SECONDS)


def port_option(flag: str, default: int, what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(flag, type=click.IntRange(1, 65535), default=default, show_default=True,
                        help=f"Port of {what}.")


@click.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"The backend's data directory [default {_DEFAULTS.data_dir}; env TRACEHOUSE_DATA].")
@click.option("--delay-ms", type=click.FloatRange(0), default=500, show_default=True,
              help="Bottleneck planted in fizzer (FIZZER_DELAY_MS), as in the talk.")
@click.option("--calls", type=click.Choice(["parallel", "sequential"]), default="parallel", show_default=True,
              help="How the hub asks fizzer and buzzer (FBAAS_CALLS).")
@click.option("--no-wait", is_flag=True, help="Stop everything after the report instead of serving the UI.")
@click.option("--sampling", is_flag=True,
              help="Then run a load twice, stored whole and through a tail-sampling policy (errors, slow, 5%), "
                   "and show what was kept and whether the doctor's answer changed.")
@click.option("--no-propagation", is_flag=True,
              help="The hub drops traceparent towards fizzer and buzzer (FBAAS_NO_PROPAGATION); the demo sends "
                   "concurrent load, rebuilds the traces and scores the rebuilt links (docs/reconstruction.md).")
@port_option("--hub-port", 6000, "the hub")
@port_option("--fizzer-port", 6001, "fizzer")
@port_option("--buzzer-port", 6002, "buzzer")
@port_option("--otlp-grpc-port", _DEFAULTS.otlp_grpc_port, "the backend's OTLP/gRPC receiver")
@port_option("--otlp-http-port", _DEFAULTS.otlp_http_port, "the backend's OTLP/HTTP receiver")
@port_option("--query-port", _DEFAULTS.query_port, "the backend's query API and UI")
def demo(data_dir: Path | None, delay_ms: float, calls: str, no_wait: bool, sampling: bool, no_propagation: bool,
         hub_port: int, fizzer_port: int, buzzer_port: int, otlp_grpc_port: int, otlp_http_port: int,
         query_port: int) -> None:
    """Start the backend and FBaaS, send 1..15, and report where the time went.

    FBaaS (FizzBuzz as a Service) is the example system of "Implementing Distributed Tracing"
    (PyCascades 2023): a hub asks fizzer and buzzer. fizzer gets the talk's planted 500 ms delay and
    the report finds it on the critical path. Everything keeps running for the UI until Ctrl-C.
    """
    plan = PortPlan(hub_port, fizzer_port, buzzer_port, otlp_grpc_port, otlp_http_port, query_port)
    check_ports(plan)
    data = data_dir if data_dir is not None else Settings.from_env().data_dir
    logs = data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    console = Console(highlight=False)
    children: list[Child] = []
    with signals_as_interrupt():
        try:
            _run(console, plan, data, logs, delay_ms, calls, no_wait, children, sampling, no_propagation)
        except KeyboardInterrupt:
            console.print()
        finally:
            # A second Ctrl-C must not orphan the children half-way through stopping them.
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                stop_children(console, children)
            finally:
                signal.signal(signal.SIGINT, previous)


def _run(console: Console, plan: PortPlan, data: Path, logs: Path, delay_ms: float, calls: str, no_wait: bool,
         children: list[Child], sampling: bool = False,
         no_propagation: bool = False) -> None:
    query_url = f"http://127.0.0.1:{plan.query}"
    python = [sys.executable, "-m", "tracehouse"]

    console.print(f"Starting the tracehouse backend (data in {data}) …")
    up_args = ["--data", str(data), "--otlp-grpc-port", str(plan.otlp_grpc), "--otlp-http-port", str(plan.otlp_http),
               "--query-port", str(plan.query)]
    backend = Child("backend", [*python, "up", *up_args], child_env({}), logs / "backend.log")
    children.append(backend)
    wait_healthy(backend, f"{query_url}/healthz", timeout=60)

    service_env = child_env({
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{plan.otlp_grpc}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        # Export within half a second, so the report does not wait for the default 5 s batch delay.
        "OTEL_BSP_SCHEDULE_DELAY": "500",
        "FIZZER_URL": f"http://127.0.0.1:{plan.fizzer}",
        "BUZZER_URL": f"http://127.0.0.1:{plan.buzzer}",
        "FIZZER_DELAY_MS": f"{delay_ms:g}",
        "FBAAS_CALLS": calls,
        **({"FBAAS_NO_PROPAGATION": "fizzer,buzzer"} if no_propagation else {}),
    })
    services = [("fizzer", plan.fizzer), ("buzzer", plan.buzzer), ("hub", plan.hub)]
    console.print("Starting FBaaS: " + ", ".join(f"{name} on :{port}" for name, port in services) +
                  f" (fizzer delay {delay_ms:g} ms, {calls} calls) …")
    for name, port in services:
        children.append(Child(name, [*python, "fbaas", name, "--port", str(port)], service_env,
                              logs / f"{name}.log"))
    for child, (_, port) in zip(children[1:], services, strict=True):
        wait_healthy(child, f"http://127.0.0.1:{port}/healthz", timeout=30)

    hub_url = f"http://127.0.0.1:{plan.hub}"
    if no_propagation:
        from tracehouse.cli.demo_reconstruct import run_reconstruction_demo
        with httpx.Client(timeout=30.0) as client:
            if run_reconstruction_demo(console, client, query_url, hub_url, sql_rows) is None:
                raise DemoError(f"the reconstruction demo had nothing to score; see the logs in {logs}")
        _serve_ui(console, query_url, hub_url, children, no_wait)
        return
    console.print(f"\nSending {DEMO_NUMBERS.start}..{DEMO_NUMBERS.stop - 1} to the hub, as the talk's loop does "
                  f"(traffic.type={DEMO_TRAFFIC}):")
    start_ns = time.time_ns()

    def show(outcome: Outcome) -> None:
        console.print(outcome_line(outcome))

    send_numbers(hub_url, list(DEMO_NUMBERS), traffic=DEMO_TRAFFIC, on_outcome=show)
    end_ns = time.time_ns()

    expected = len(DEMO_NUMBERS) * SPANS_PER_TRACE
    with httpx.Client(timeout=30.0) as client:
        with console.status("Waiting for the spans to reach the backend …"):
            stored = wait_for_spans(client, query_url, start_ns, end_ns, expected, timeout=30)
        if stored < expected:
            console.print(f"[yellow]Only {stored} of {expected} spans arrived within 30 s; "
                          f"the report covers those (service logs in {logs}).[/]")
        traces = fetch_traces(client, query_url, start_ns, end_ns)
    top = print_report(console, traces, delay_ms)
    if top is None:
        raise DemoError(f"no spans of the demo's requests reached the backend; see the logs in {logs}")
    # The deeper look across those traces (routes, critical-path contributors, marking attributes,
    # error hot spots), over just the demo's window so earlier runs in the same data dir stay out.
    window_s = math.ceil((time.time_ns() - start_ns) / 1e9) + 1
    console.print()
    console.print(doctor_text(query_url, since=f"{window_s}s"), markup=False, highlight=False)
    if sampling:
        from tracehouse.cli.demo_sampling import run_sampling_demo
        run_sampling_demo(console, children, backend, up_args, data, logs, hub_url, query_url)

    _serve_ui(console, query_url, hub_url, children, no_wait)


def _serve_ui(console: Console, query_url: str, hub_url: str, children: list[Child], no_wait: bool) -> None:
    console.print(f"\nThe traces are in the UI: [bold]{query_url}/[/]")
    if no_wait:
        return
    console.print(f"FBaaS keeps running: try `tracehouse send --url {hub_url} --traffic user`. "
                  "Press Ctrl-C to stop everything.")
    while True:
        for child in children:
            if not child.running():
                raise DemoError(f"{child.name} stopped unexpectedly (status {child.process.returncode}); "
                                f"its log ({child.log_path}):\n{child.log_tail()}")
        time.sleep(0.5)
