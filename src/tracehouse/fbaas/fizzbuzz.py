"""The arithmetic of FizzBuzz, and the answers the talk's hub gives."""

from __future__ import annotations


def is_fizz(number: int) -> bool:
    return number % 3 == 0


def is_buzz(number: int) -> bool:
    return number % 5 == 0


def answer(number: int, fizz: bool, buzz: bool) -> str:
    """The hub's reply, spelled exactly as in the talk ("Fizzbuzz!", not "FizzBuzz!")."""
    if fizz and buzz:
        return "Fizzbuzz!"
    if fizz:
        return "Fizz!"
    if buzz:
        return "Buzz!"
    return str(number)
