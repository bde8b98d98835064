"""What tracing costs FBaaS: hub throughput and latency with tracing on (100% sampled, exported to a
real `tracehouse up`) versus off (OTEL_SDK_DISABLED=true).

Two FBaaS deployments run side by side (only the one under load uses CPU); runs alternate between
them so drift on the machine hits both alike, and each figure is the median of the repeated runs.
The load generator is `tracehouse send`'s, in this process, at a fixed concurrency and duration.
Note that the client, the three services and the backend share the machine's cores.

Run alone with `python -m bench.fbaas_bench [--duration S] [--repeats N]`; bench/run.py calls run().
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.backend_process import Backend
from bench.ports import free_ports
from tracehouse.cli.send_cmd import SendReport, send_numbers

CONCURRENCY = 8
SPANS_PER_REQUEST = 5
OVERHEAD_TARGET = 0.15


class _Services:
    """fizzer, buzzer and hub as child processes, all with the same OTel environment."""

    def __init__(self, otel_env: Mapping[str, str], log_dir: Path, label: str) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        ports = dict(zip(("fizzer", "buzzer", "hub"), free_ports(3), strict=True))
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FBAAS_", "FIZZER_", "BUZZER_"))}
        env = {**base, **otel_env, "FIZZER_DELAY_MS": "0",
               "FIZZER_URL": f"http://127.0.0.1:{ports['fizzer']}",
               "BUZZER_URL": f"http://127.0.0.1:{ports['buzzer']}"}
        for name, port in ports.items():
            with (log_dir / f"{label}-{name}.log").open("wb") as log:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "tracehouse", "fbaas", name, "--port", str(port)],
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            _wait_healthy(self.procs[-1], f"http://127.0.0.1:{port}/healthz")
        self.hub_url = f"http://127.0.0.1:{ports['hub']}"

    def cpu_seconds(self) -> float:
        """CPU (user + system) used so far by the three services, gunicorn workers included."""
        total = 0.0
        for proc in self.procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                parent = psutil.Process(proc.pid)
                for process in [parent, *parent.children(recursive=True)]:
                    times = process.cpu_times()
                    total += times.user + times.system
        return total

    def stop(self) -> None:
        # Hub first, so no request is in flight when its downstreams go; each flushes its spans.
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: service exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy after {timeout} s")


@contextlib.contextmanager
def _deployments(workdir: Path) -> Iterator[tuple[Backend, _Services, _Services]]:
    backend = Backend(workdir / "data")
    started: list[_Services] = []
    try:
        traced = _Services({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{backend.info['otlp_grpc']}",
                            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_TRACES_SAMPLER": "always_on"},
                           workdir, "on")
        started.append(traced)
        untraced = _Services({"OTEL_SDK_DISABLED": "true"}, workdir, "off")
        started.append(untraced)
        yield backend, traced, untraced
    finally:
        for services in started:
            services.stop()
        backend.stop()


def _load(hub_url: str, seconds: float) -> SendReport:
    return send_numbers(hub_url, list(range(1, 16)), concurrency=CONCURRENCY, duration=seconds)


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measured_load(services: _Services, backend: Backend, seconds: float) -> tuple[SendReport, dict[str, float]]:
    """A load run, and the CPU per request (ms) of the services, the client (this process) and the backend.

    CPU per request moves much less than throughput when other work shares the machine.
    """
    before = {"services": services.cpu_seconds(), "client": _own_cpu_seconds(), "backend": backend.cpu_seconds()}
    report = _load(services.hub_url, seconds)
    after = {"services": services.cpu_seconds(), "client": _own_cpu_seconds(), "backend": backend.cpu_seconds()}
    return report, {k: (after[k] - before[k]) * 1000 / max(report.sent, 1) for k in before}


def _count_spans(backend: Backend, expected: int, timeout: float = 60.0, settle: float = 5.0) -> int:
    """Spans in the store once `expected` are there, or the count has not grown for `settle` s."""
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while True:
        count = int(backend.sql("SELECT count(*) FROM spans")[0][0])
        now = time.monotonic()
        if count != last:
            last, last_change = count, now
        if count >= expected or now - last_change > settle or now > deadline:
            return count
        time.sleep(0.5)


def run(duration: float = 10.0, repeats: int = 3, warmup: float = 2.0) -> dict[str, Any]:
    """Measure, print and return the figures (requests/s, p50/p99 ms per mode; on/off ratio)."""
    # Other work on the machine swamps a difference of a few percent: record how busy it was.
    load_before = os.getloadavg()[0]
    runs: dict[str, list[SendReport]] = {"off": [], "on": []}
    cpu_ms: dict[str, dict[str, list[float]]] = {mode: {"services": [], "client": [], "backend": []}
                                                 for mode in ("off", "on")}
    traced_requests = 0
    traced_errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fbaas-bench-") as tmp, _deployments(Path(tmp)) as (
            backend, traced, untraced):
        deployments = {"on": traced, "off": untraced}
        for mode, services in deployments.items():
            report = _load(services.hub_url, warmup)
            if mode == "on":
                traced_requests += report.sent - report.error_count
                traced_errors += list(report.errors.elements())
        for _ in range(repeats):
            for mode in ("off", "on"):
                report, cpu = _measured_load(deployments[mode], backend, duration)
                runs[mode].append(report)
                for part, value in cpu.items():
                    cpu_ms[mode][part].append(value)
                if mode == "on":
                    # A request that failed may have stopped before all five spans began; only
                    # answered requests are counted on to have their five spans stored.
                    traced_requests += report.sent - report.error_count
                    traced_errors += list(report.errors.elements())
                print(f"  tracing {mode:3}: {report.requests_per_second:7.1f} req/s  "
                      f"p50 {report.percentile_ms(50):6.2f} ms  p99 {report.percentile_ms(99):6.2f} ms  "
                      f"CPU ms/request: services {cpu['services']:.2f}, client {cpu['client']:.2f}, "
                      f"backend {cpu['backend']:.2f}  errors {report.error_count}", flush=True)
        traced.stop()  # flushes every pending span
        spans_expected = traced_requests * SPANS_PER_REQUEST
        spans_stored = _count_spans(backend, spans_expected)
        if spans_stored < spans_expected:
            # Say why, while the services' logs still exist (exporter warnings land there).
            for log in sorted(Path(tmp).glob("on-*.log")):
                lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
                print(f"  {log.name}: " + (" | ".join(lines[-5:]) or "(empty)"))

    def median(mode: str, value: str) -> float:
        reports = runs[mode]
        if value == "rps":
            return statistics.median(r.requests_per_second for r in reports)
        return statistics.median(r.percentile_ms(float(value)) for r in reports)

    figures: dict[str, Any] = {
        "concurrency": CONCURRENCY,
        "duration_s": duration,
        "repeats": repeats,
        "rps_tracing_off": round(median("off", "rps"), 1),
        "rps_tracing_on": round(median("on", "rps"), 1),
        "p50_ms_tracing_off": round(median("off", "50"), 2),
        "p50_ms_tracing_on": round(median("on", "50"), 2),
        "p99_ms_tracing_off": round(median("off", "99"), 2),
        "p99_ms_tracing_on": round(median("on", "99"), 2),
        **{f"{part}_cpu_ms_per_request_{mode}": round(statistics.median(values), 3)
           for mode, parts in cpu_ms.items() for part, values in parts.items()},
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "errors": sum(r.error_count for reports in runs.values() for r in reports),
        "spans_expected": spans_expected,
        "traced_request_errors": traced_errors,
        "spans_stored": spans_stored,
    }
    ratio = figures["rps_tracing_on"] / figures["rps_tracing_off"]
    figures["throughput_ratio_on_off"] = round(ratio, 3)
    figures["tracing_overhead_pct"] = round((1 - ratio) * 100, 1)
    figures["within_target"] = (1 - ratio) <= OVERHEAD_TARGET
    # When everything shares the cores, throughput goes as 1 / (CPU per request, all processes).
    cpu_total = {mode: sum(figures[f"{part}_cpu_ms_per_request_{mode}"] for part in ("services", "client", "backend"))
                 for mode in ("off", "on")}
    figures["cpu_derived_overhead_pct"] = round((1 - cpu_total["off"] / cpu_total["on"]) * 100, 1)

    print(f"FBaaS hub, concurrency {CONCURRENCY}, {repeats} x {duration:g} s per mode (medians):")
    print(f"  tracing off: {figures['rps_tracing_off']:7.1f} req/s  p50 {figures['p50_ms_tracing_off']:.2f} ms  "
          f"p99 {figures['p99_ms_tracing_off']:.2f} ms")
    print(f"  tracing on : {figures['rps_tracing_on']:7.1f} req/s  p50 {figures['p50_ms_tracing_on']:.2f} ms  "
          f"p99 {figures['p99_ms_tracing_on']:.2f} ms")
    print(f"  on/off throughput ratio {ratio:.3f}: tracing costs {figures['tracing_overhead_pct']:.1f}% "
          f"(target <= {OVERHEAD_TARGET:.0%}: {'met' if figures['within_target'] else 'NOT met'})")
    print(f"  CPU per request: services {figures['services_cpu_ms_per_request_off']:.2f} ms untraced, "
          f"{figures['services_cpu_ms_per_request_on']:.2f} ms traced; "
          f"backend {figures['backend_cpu_ms_per_request_on']:.2f} ms; "
          f"client {figures['client_cpu_ms_per_request_off']:.2f} ms")
    print(f"  all processes {cpu_total['off']:.2f} ms untraced, {cpu_total['on']:.2f} ms traced: on a CPU-bound "
          f"machine tracing costs {figures['cpu_derived_overhead_pct']:.1f}% of throughput")
    print(f"  spans stored {spans_stored} of {spans_expected} expected from the answered traced requests"
          + (f" ({len(traced_errors)} failed: {sorted(set(traced_errors))})" if traced_errors else ""))
    print(f"  1-min load average {figures['load_average_before']} before, {figures['load_average_after']} after"
          f"{' (the machine was busy: figures are noisy)' if load_before > 1.0 else ''}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per mode")
    args = parser.parse_args()
    run(duration=args.duration, repeats=args.repeats)


if __name__ == "__main__":
    main()
