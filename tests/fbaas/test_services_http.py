"""The three services over HTTP, as real processes (tracing off): answers, health, and bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .helpers import Processes, Service, post_number, run_cli

DISABLED = {"OTEL_SDK_DISABLED": "true"}


@pytest.fixture(scope="module")
def fbaas(module_processes: Processes) -> dict[str, Service]:
    hub, fizzer, buzzer = module_processes.fbaas(DISABLED)
    return {"hub": hub, "fizzer": fizzer, "buzzer": buzzer}


def test_the_hub_answers_1_to_15_as_in_the_talk(fbaas: dict[str, Service]) -> None:
    expected = ["1", "2", "Fizz!", "4", "Buzz!", "Fizz!", "7", "8", "Fizz!", "Buzz!", "11", "Fizz!", "13", "14",
                "Fizzbuzz!"]
    answers = [post_number(fbaas["hub"].url, {"number": n}).json() for n in range(1, 16)]
    assert answers == expected


@pytest.mark.parametrize(("number", "expected"), [(0, "Fizzbuzz!"), (-10, "Buzz!"), (10**20, "Buzz!")])
def test_the_hub_answers_any_integer(fbaas: dict[str, Service], number: int, expected: str) -> None:
    response = post_number(fbaas["hub"].url, {"number": number})
    assert (response.status_code, response.json()) == (200, expected)


@pytest.mark.parametrize(("service", "number", "expected"), [
    ("fizzer", 9, {"number": 9, "fizz": True}), ("fizzer", 10, {"number": 10, "fizz": False}),
    ("buzzer", 10, {"number": 10, "buzz": True}), ("buzzer", 9, {"number": 9, "buzz": False}),
])
def test_fizzer_and_buzzer_answer_their_question(fbaas: dict[str, Service], service: str, number: int,
                                                 expected: dict[str, Any]) -> None:
    response = post_number(fbaas[service].url, {"number": number})
    assert (response.status_code, response.json()) == (200, expected)


@pytest.mark.parametrize("service", ["hub", "fizzer", "buzzer"])
def test_every_service_has_a_health_check(fbaas: dict[str, Service], service: str) -> None:
    response = httpx.get(f"{fbaas[service].url}/healthz")
    assert response.status_code == 200
    assert response.json()["service"] == service


BAD_REQUESTS = {
    "wrong content type": (b'{"number": 3}', "text/plain", 415),
    "no content type": (b'{"number": 3}', None, 415),
    "not JSON": (b"number=3", "application/json", 400),
    "empty body": (b"", "application/json", 400),
    "JSON array": (b"[3]", "application/json", 422),
    "missing number": (b'{"numbr": 3}', "application/json", 422),
    "number as a string": (b'{"number": "3"}', "application/json", 422),
    "boolean": (b'{"number": true}', "application/json", 422),
    "float": (b'{"number": 3.5}', "application/json", 422),
    "integral float": (b'{"number": 3.0}', "application/json", 422),
    "null": (b'{"number": null}', "application/json", 422),
    "NaN": (b'{"number": NaN}', "application/json", 422),
    "non-JSON huge number": (b'{"number": ' + b"9" * 5000 + b"}", "application/json", 400),
}


@pytest.mark.parametrize("service", ["hub", "fizzer", "buzzer"])
@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_input_gets_a_4xx_with_a_json_error(fbaas: dict[str, Service], service: str, case: str) -> None:
    body, content_type, status = BAD_REQUESTS[case]
    headers = {"Content-Type": content_type} if content_type else {}
    response = post_number(fbaas[service].url, content=body, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert isinstance(error, str) and error
    assert "Traceback" not in response.text


@pytest.mark.parametrize("service", ["hub", "fizzer", "buzzer"])
@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/nowhere", 404), ("GET", "/", 405)])
def test_unknown_routes_and_methods_answer_json_too(fbaas: dict[str, Service], service: str, method: str,
                                                   path: str, status: int) -> None:
    response = httpx.request(method, f"{fbaas[service].url}{path}")
    assert response.status_code == status
    assert isinstance(response.json()["error"], str)


@pytest.mark.parametrize(("command", "env_name", "value"), [
    ("hub", "FBAAS_CALLS", "sideways"),
    ("hub", "FBAAS_TIMEOUT_MS", "soon"),
    ("fizzer", "FIZZER_DELAY_MS", "-5"),
])
def test_a_bad_setting_stops_the_service_with_a_message(command: str, env_name: str, value: str) -> None:
    result = run_cli("fbaas", command, "--port", "1", env={env_name: value})
    assert result.returncode != 0
    assert env_name in result.stderr and value in result.stderr
    assert "Traceback" not in result.stderr
