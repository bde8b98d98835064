"""`tracehouse demo`: the whole story in one command, and a clear refusal when a port is taken."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import httpx
import pytest

from .helpers import free_port, run_cli

PORT_FLAGS = ["--hub-port", "--fizzer-port", "--buzzer-port", "--otlp-grpc-port", "--otlp-http-port", "--query-port"]


def port_args() -> tuple[list[str], dict[str, int]]:
    ports = {flag: free_port() for flag in PORT_FLAGS}
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
    assert "Traceback" not in out + result.stderr
    assert (tmp_path / "data" / "logs" / "fizzer.log").exists()
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
