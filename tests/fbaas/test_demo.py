"""`tracehouse demo`: the whole story in one command, and a clear refusal when a port is taken."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import psutil
import pytest
from bench.ports import free_ports

from .helpers import PYTHON_TRACEHOUSE, clean_env, run_cli, wait_until

PORT_FLAGS = ["--hub-port", "--fizzer-port", "--buzzer-port", "--otlp-grpc-port", "--otlp-http-port", "--query-port"]


def port_args() -> tuple[list[str], dict[str, int]]:
    ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS)), strict=True))
    return [arg for flag, port in ports.items() for arg in (flag, str(port))], ports


def nothing_listens_on(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_demo_sends_1_to_15_finds_the_planted_delay_in_fizzer_and_stops_everything(tmp_path: Path) -> None:
    args, ports = port_args()
    result = run_cli("demo", "--no-wait", "--data", str(tmp_path / "data"), "--delay-ms", "300", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Sent 3, Received Fizz!" in out and "Sent 15, Received Fizzbuzz!" in out
    headline = re.search(r"(\S+) POST / took (\d+)% of it, (\d+) ms per request", out)
    assert headline, out
    assert headline.group(1) == "fizzer"
    assert int(headline.group(2)) >= 80
    assert 300 <= int(headline.group(3)) < 400
    assert f"http://127.0.0.1:{ports['--query-port']}/" in out
    # The demo ends with the doctor, whose critical-path finding names fizzer first.
    doctor = out[out.index("tracehouse doctor"):]
    waits = doctor[doctor.index("Where requests wait"):]
    first_finding = waits.splitlines()[1]
    assert "fizzer" in first_finding, doctor
    assert "Traceback" not in out + result.stderr
    assert (tmp_path / "data" / "logs" / "fizzer.log").exists()
    assert all(nothing_listens_on(port) for port in ports.values())


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(("sig", "background"),
                         [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["Ctrl-C", "Ctrl-C, started in the background", "SIGTERM"])
def test_demo_serves_until_interrupted_then_stops_every_child(tmp_path: Path, sig: signal.Signals,
                                                              background: bool) -> None:
    """`background`: started with SIGINT ignored, as a background job of a non-interactive shell is
    (`tracehouse demo &` in a script, or a CI step run that way), for which Python installs no
    KeyboardInterrupt: the demo must still stop on the Ctrl-C it asks for."""
    args, ports = port_args()
    output = tmp_path / "demo.out"
    with output.open("w") as out:
        demo = subprocess.Popen([*PYTHON_TRACEHOUSE, "demo", "--data", str(tmp_path / "data"), "--delay-ms", "0",
                                 *args], stdout=out, stderr=subprocess.STDOUT, env=clean_env({"COLUMNS": "200"}),
                                start_new_session=True, preexec_fn=_ignore_sigint if background else None)
    try:
        wait_until(lambda: "Press Ctrl-C" in output.read_text() or demo.poll() is not None, 120,
                   "the demo to start serving")
        assert demo.poll() is None, output.read_text()
        # Still serving after the report: the hub answers.
        assert httpx.post(f"http://127.0.0.1:{ports['--hub-port']}", json={"number": 5}).json() == "Buzz!"
        demo.send_signal(sig)
        assert demo.wait(60) == 0, output.read_text()
    finally:
        if demo.poll() is None:
            # The children run in sessions of their own: kill the whole tree, not just the demo.
            family = [*psutil.Process(demo.pid).children(recursive=True), psutil.Process(demo.pid)]
            for process in family:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()
            demo.wait()
    assert "stopping backend" in output.read_text()
    assert "Traceback" not in output.read_text()
    assert all(nothing_listens_on(port) for port in ports.values())


@pytest.mark.parametrize("taken_flag", ["--hub-port", "--query-port"])
def test_a_port_in_use_is_named_and_nothing_is_started(tmp_path: Path, taken_flag: str) -> None:
    args, ports = port_args()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[taken_flag]))
        holder.listen()
        result = run_cli("demo", "--no-wait", "--data", str(tmp_path / "data"), *args, timeout=30)
    assert result.returncode != 0
    assert f"port {ports[taken_flag]}" in result.stderr and "already in use" in result.stderr
    assert taken_flag in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{ports['--query-port' if taken_flag == '--hub-port' else '--hub-port']}/healthz")


def test_the_same_port_twice_is_refused(tmp_path: Path) -> None:
    args, ports = port_args()
    result = run_cli("demo", "--no-wait", "--data", str(tmp_path / "data"), *args,
                     "--fizzer-port", str(ports["--hub-port"]), timeout=30)
    assert result.returncode != 0
    assert f"port {ports['--hub-port']} is given to both hub and fizzer" in result.stderr
