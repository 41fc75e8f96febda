"""One OSC argument read against its :class:`~bridge.protocol.Arg`: type and range.

The words of a refusal live here too: what an OSC value is (``osc_type``)
and numbers as a producer reads them (``number``, ``over``).
"""

from __future__ import annotations

from typing import Any

from bridge import osc
from bridge.protocol import Arg
from engine.errors import InvalidValue, OutOfRange, WrongType


def check(arg: Arg, value: Any) -> Any:
    """Type- and range-check one value."""
    if arg.kind == "str":
        if not isinstance(value, str):
            raise WrongType(f"{arg.name} must be a string, got {osc_type(value)}.")
        value = value.strip()
        size = len(value)
        if arg.minimum is not None and size < arg.minimum:
            raise InvalidValue(
                f"{arg.name} is empty."
                if size == 0
                else f"{arg.name} is too short ({size} characters)."
            )
        if arg.maximum is not None and size > arg.maximum:
            raise OutOfRange(f"{arg.name} is {size} characters; the most is {arg.maximum:g}.")
        return value
    if arg.kind == "bool":
        if type(value) is bool or (type(value) is int and value in (0, 1)):
            return bool(value)
        got = repr(value) if type(value) is int else osc_type(value)
        raise WrongType(f"{arg.name} must be 0 or 1 (or OSC true/false), got {got}.")
    if arg.kind == "int":
        if type(value) is not int:
            raise WrongType(f"{arg.name} must be an integer, got {osc_type(value)}.")
    elif type(value) not in (int, float):
        raise WrongType(f"{arg.name} must be a number, got {osc_type(value)}.")
    elif value != value or value in (float("inf"), float("-inf")):
        raise OutOfRange(f"{arg.name} must be a finite number.")
    low, high = arg.minimum, arg.maximum
    if low is not None and high is not None and not low <= value <= high:
        raise OutOfRange(
            f"{arg.name} must be between {number(low)} and {number(high)}, got {number(value)}."
        )
    if low is not None and value < low:
        raise OutOfRange(f"{arg.name} must be at least {number(low)}, got {number(value)}.")
    if high is not None and value > high:
        raise OutOfRange(f"{arg.name} must be at most {number(high)}, got {number(value)}.")
    return float(value) if arg.kind == "float" else value


def number(value: float) -> str:
    """A number as a producer reads it: every digit of a whole one (2147483647, not
    2.14748e+09), a fraction to six significant digits."""
    if float(value).is_integer() and abs(value) < 1e18:
        return str(int(value))
    return f"{value:.6g}"


def over(value: float, most: float) -> str:
    """``value`` (over ``most``) in as few digits as show that it is over: 1e+308,
    120.0001, 19.7938 (never 300 digits, never 120.00 for just over 120)."""
    for digits in range(4, 18):
        text = f"{value:.{digits}g}"
        if float(text) > most:
            return text
    return repr(value)


def osc_type(value: Any) -> str:
    """What an argument is, in OSC's words, for wrong_type messages."""
    if isinstance(value, osc.Unusable):
        return str(value)
    names = {
        str: f"a string ({value!r:.40})",
        int: f"an integer ({value})",
        float: f"a float ({value:g})" if isinstance(value, float) else "",
        bytes: "an OSC blob (b)",
        bool: f"OSC {'true' if value else 'false'}",
        list: "an OSC array ([ ])",
    }
    return names.get(type(value)) or ("OSC nil (N)" if value is None else type(value).__name__)
