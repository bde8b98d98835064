"""`tracehouse send` as a user runs it: the talk's loop, load mode, errors, and an unreachable hub."""

from __future__ import annotations

import math
import re

import pytest

from tracehouse.cli.send_cmd import percentile

from .helpers import Processes, Service, free_port, run_cli

DISABLED = {"OTEL_SDK_DISABLED": "true"}


@pytest.fixture(scope="module")
def hub(module_processes: Processes) -> Service:
    return module_processes.fbaas(DISABLED)[0]


@pytest.fixture(scope="module")
def broken_hub(module_processes: Processes) -> Service:
    """A hub whose fizzer is not running: every request fails with a 502."""
    buzzer = module_processes.service("buzzer", DISABLED)
    return module_processes.service("hub", {**DISABLED, "FIZZER_URL": f"http://127.0.0.1:{free_port()}",
                                            "BUZZER_URL": buzzer.url})


def summary_count(stdout: str) -> tuple[int, int]:
    match = re.search(r"(\d+) requests in .* (\d+) errors?", stdout)
    assert match, stdout
    return int(match.group(1)), int(match.group(2))


def test_a_range_prints_one_line_per_number_then_the_percentiles(hub: Service) -> None:
    result = run_cli("send", "9", "11", "--url", hub.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == ["Sent 9, Received Fizz!", "Sent 10, Received Buzz!", "Sent 11, Received 11"]
    assert summary_count(result.stdout) == (3, 0)
    assert re.search(r"p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms", result.stdout)


def test_count_mode_cycles_through_the_range_with_concurrency(hub: Service) -> None:
    result = run_cli("send", "1", "15", "--url", hub.url, "--count", "60", "--concurrency", "4")
    assert result.returncode == 0, result.stderr
    assert summary_count(result.stdout) == (60, 0)
    assert "Received" not in result.stdout


def test_duration_mode_runs_for_about_that_long(hub: Service) -> None:
    result = run_cli("send", "--url", hub.url, "--duration", "1", "--concurrency", "2", "--quiet")
    assert result.returncode == 0, result.stderr
    sent, errors = summary_count(result.stdout)
    assert sent > 10 and errors == 0
    seconds = float(re.search(r"requests in ([\d.]+) s", result.stdout).group(1))  # type: ignore[union-attr]
    assert 1.0 <= seconds < 3.0


def test_bad_responses_are_shown_counted_and_fail_the_run(broken_hub: Service) -> None:
    result = run_cli("send", "1", "3", "--url", broken_hub.url)
    assert result.returncode == 1
    assert "Sent 1, Error: HTTP 502: fizzer is unreachable" in result.stdout
    assert summary_count(result.stdout) == (3, 3)
    assert "Traceback" not in result.stdout + result.stderr


def test_in_load_mode_errors_are_counted_and_only_the_first_few_shown(broken_hub: Service) -> None:
    result = run_cli("send", "--url", broken_hub.url, "--count", "30", "--concurrency", "3")
    assert result.returncode == 1
    assert summary_count(result.stdout) == (30, 30)
    assert result.stdout.count("Sent ") == 5
    assert "30x HTTP 502: fizzer is unreachable" in result.stdout


def test_an_unreachable_hub_is_a_clear_error(hub: Service) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli("send", "--url", url)
    assert result.returncode != 0
    assert f"cannot reach the hub at {url}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--count", "5", "--duration", "1"], ["--traffic", "load test"],
                                  ["--concurrency", "0"]])
def test_contradictory_or_invalid_options_are_usage_errors(args: list[str]) -> None:
    result = run_cli("send", *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([1.0], 99, 1.0), ([1.0, 2.0], 50, 1.5), ([1.0, 2.0, 3.0, 4.0, 5.0], 50, 3.0),
    ([float(i) for i in range(1, 101)], 99, 99.01), ([1.0, 2.0, 3.0], 100, 3.0), ([1.0, 2.0, 3.0], 0, 1.0),
])
def test_percentiles_interpolate_between_ranks(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_the_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))
