"""The answers and the request validation, as pure functions."""

from __future__ import annotations

import pytest

from tracehouse.fbaas.fizzbuzz import answer, is_buzz, is_fizz
from tracehouse.fbaas.validation import InvalidRequest, parse_number_request


def talk_answer(n: int) -> str:
    return answer(n, is_fizz(n), is_buzz(n))


@pytest.mark.parametrize(("number", "expected"), [
    (1, "1"), (3, "Fizz!"), (5, "Buzz!"), (6, "Fizz!"), (10, "Buzz!"), (15, "Fizzbuzz!"), (30, "Fizzbuzz!"),
    (7, "7"), (0, "Fizzbuzz!"), (-3, "Fizz!"), (-7, "-7"), (10**30, "Buzz!"),
])
def test_answers_are_spelled_as_the_talks_hub_spells_them(number: int, expected: str) -> None:
    assert talk_answer(number) == expected


def test_a_valid_request_yields_its_number() -> None:
    assert parse_number_request("application/json; charset=utf-8", b'{"number": 42, "extra": 1}') == 42


@pytest.mark.parametrize(("content_type", "body", "status", "fragment"), [
    ("text/plain", b'{"number": 3}', 415, "application/json"),
    (None, b'{"number": 3}', 415, "none"),
    ("application/json", b"{number: 3", 400, "not valid JSON"),
    ("application/json", b"\xff\xfe", 400, "not valid JSON"),
    ("application/json", b"1" * 5000, 400, "not valid JSON"),
    ("application/json", b"[3]", 422, "JSON object"),
    ("application/json", b"{}", 422, 'missing "number"'),
    ("application/json", b'{"number": "3"}', 422, "integer"),
    ("application/json", b'{"number": true}', 422, "got true"),
    ("application/json", b'{"number": 3.0}', 422, "got 3.0"),
    ("application/json", b'{"number": null}', 422, "integer"),
    ("application/json", b'{"number": NaN}', 422, "integer"),
    ("application/json", b'{"number": 1e400}', 422, "integer"),
])
def test_bad_requests_are_refused_with_a_4xx_and_a_reason(content_type: str | None, body: bytes, status: int,
                                                          fragment: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_number_request(content_type, body)
    assert caught.value.status == status
    assert fragment in caught.value.message
