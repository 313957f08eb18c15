"""Strict parsing of endpoint parameters: a clean value, or a UserError naming the parameter and what it accepts.

Raw HTTP and script clients send anything (strings for booleans, floats for ints, lists, huge strings); nothing here
coerces a doubtful value into a charge. `None` means "not given" and yields the default where a parameter has one.
"""

import math
import re
from collections.abc import Collection
from typing import Any

from avatargen.errors import UserError

_INTEGER = re.compile(r"[+-]?\d{1,20}")
_IDENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_REQUIRED = object()


def flag(name: str, value: Any, *, default: bool = False) -> bool:
    """true or false: JSON booleans, or the strings "true"/"false" that form-style clients send."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise UserError(f"{name} must be true or false, not {_shown(value)}.")


def whole(name: str, value: Any, *, lo: int, hi: int, default: Any = _REQUIRED) -> Any:
    """A whole number from lo to hi: an int, a float without a fraction (2.0) or a string of digits ("20")."""
    accepts = f"{name} must be a whole number from {lo} to {hi}"
    if value is None:
        if default is _REQUIRED:
            raise UserError(f"{accepts}.")
        return default
    if isinstance(value, bool):
        raise UserError(f"{accepts}, not {_shown(value)}.")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise UserError(f"{accepts}, not {_shown(value)}.")
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise UserError(f"{accepts}, not {_shown(value)}.")
    if not lo <= number <= hi:
        raise UserError(f"{accepts}, not {number}.")
    return number


def number_choice(name: str, value: Any, choices: Collection[int], *, default: Any = _REQUIRED) -> Any:
    """One of the whole numbers `choices`, given as `whole` accepts them (4, 4.0 or "4")."""
    accepts = f"{name} must be one of: {', '.join(map(str, choices))}"
    if value is None and default is not _REQUIRED:
        return default
    try:
        number = whole(name, value, lo=min(choices), hi=max(choices))
    except UserError:
        raise UserError(f"{accepts}; not {_shown(value)}.") from None
    if number not in choices:
        raise UserError(f"{accepts}; not {_shown(value)}.")
    return number


def choice(name: str, value: Any, choices: Collection[str], *, default: Any = _REQUIRED) -> Any:
    """One of `choices`, exactly."""
    if value is None and default is not _REQUIRED:
        return default
    if isinstance(value, str) and value in choices:
        return value
    raise UserError(f"{name} must be one of: {', '.join(choices)}; not {_shown(value)}.")


def text(name: str, value: Any, *, most: int, default: Any = _REQUIRED) -> Any:
    """A string of at most `most` characters once stripped; None or blank gives the default."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is _REQUIRED:
            raise UserError(f"{name} is required.")
        return default
    if not isinstance(value, str):
        raise UserError(f"{name} must be text, not {_shown(value)}.")
    value = value.strip()
    if len(value) > most:
        raise UserError(f"{name} must be at most {most} characters; this one has {len(value)}.")
    return value


def ident(name: str, value: Any) -> str:
    """An id as the app hands them out: 1 to 64 letters, digits, '-' or '_'."""
    if isinstance(value, str) and _IDENT.fullmatch(value.strip()):
        return value.strip()
    if value is None or value == "":
        raise UserError(f"{name} is required.")
    raise UserError(f"{name} must be an id (letters, digits, '-' and '_', at most 64), not {_shown(value)}.")


def optional_ident(name: str, value: Any) -> str | None:
    """An id a client chose (an idempotency key), or None when not given."""
    return None if value is None or value == "" else ident(name, value)


def idents(name: str, value: Any, *, most: int) -> list[str]:
    """A list of 1 to `most` ids, duplicates dropped in order."""
    if not isinstance(value, list | tuple) or not value:
        raise UserError(f"{name} must be a list of 1 to {most} ids, not {_shown(value)}.")
    ids = list(dict.fromkeys(ident(f"each of {name}", item) for item in value))
    if len(ids) > most:
        raise UserError(f"{name} may hold at most {most} ids; this one has {len(ids)}.")
    return ids


def _shown(value: Any) -> str:
    """A short rendering of a refused value (a huge string must not come back whole in the message)."""
    shown = repr(value)
    return shown if len(shown) <= 40 else f"{shown[:37]}…"
