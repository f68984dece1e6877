"""How a sentence template is filled: the words a CSM reads when a feature drives the score.

A definition's ``risk`` and ``protective`` templates (:mod:`features.base`) name the value (``{value:.0f}``), the
words that agree with it (``{s}``, ``{are}``, ``{pct}``, ``{above}``, ``{up}``, ``{size}``, ``{label}``, ``{plus}``)
and the feature's parameters (``{window}``). :func:`render` fills one; :func:`render_numbers` fills one template
for many numbers, as the scorer tells every account's reasons.
"""

from __future__ import annotations

import re
import string
from typing import Any


def as_number(value) -> float | None:
    """``value`` as a float; ``None`` for a text, a missing value or NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def capitalised(text: str) -> str:
    """``text`` with its first letter upper-case (the rest as it is)."""
    return text[:1].upper() + text[1:]


def percent_words(number: float | None) -> dict[str, str]:
    """How a signed share reads in a sentence: ``pct`` "86 %" (its size), ``above`` "above"/"below", ``up`` "up"/"down".

    Examples
    --------
    >>> percent_words(-0.861)
    {'pct': '86 %', 'above': 'below', 'up': 'down'}
    """
    if number is None:
        return {"pct": "unknown", "above": "vs", "up": "changed"}
    return {"pct": f"{abs(number):.0%}".replace("%", " %"), "above": "above" if number >= 0 else "below",
            "up": "up" if number >= 0 else "down"}


def label_words(params: dict[str, Any]) -> str:
    """``{label}``: the feature's attribute in words ("Billing term"), empty for a feature of no attribute."""
    return capitalised(str(params.get("attribute", "")).replace("_", " "))


def _one(number: float | None) -> bool:
    return number is not None and round(abs(number)) == 1


#: The words that agree with the value as shown (a value that rounds to 1 is singular), and its size.
_AGREEING = {"s": lambda number: "" if _one(number) else "s",
             "are": lambda number: "is" if _one(number) else "are",
             "size": lambda number: abs(number) if number is not None else "unknown"}


def render(template: str, value: Any, params: dict[str, Any]) -> str:
    """Fill a sentence template, writing missing values as 'unknown'.

    ``{s}`` and ``{are}`` agree with the value as shown: "1 active user is", "2 active users are"
    (a value that rounds to 1 is singular). A signed share reads in words: ``{pct}`` is its size ("86 %"),
    ``{above}`` "above" or "below", ``{up}`` "up" or "down"; ``{size}`` is a number's size without its sign,
    ``{label}`` an attribute's name in words ("Billing term").
    """
    missing = value is None or (isinstance(value, float) and value != value)
    if missing:
        template = _without_format_spec(template)
        value = "unknown"
    number = as_number(value)
    words = {"plus": "", **{name: word(number) for name, word in _AGREEING.items()}, **percent_words(number),
             "label": label_words(params), **params}
    try:
        return template.format(value=value, **words)
    except (ValueError, TypeError):
        return _without_format_spec(template).format(value=value, **words)


def render_numbers(template: str, numbers: list[float], params: dict[str, Any]) -> list[str]:
    """``[render(template, n, params) for n in numbers]`` for finite floats: one field at a time over all numbers,
    then one positional ``format`` per sentence, several times faster; by :func:`render` one by one when a field is
    not one of the words, the value or a parameter (or has a conversion or a nested spec)."""
    fixed, fields = "", []
    try:
        for literal, name, spec, conversion in string.Formatter().parse(template):
            fixed += literal.replace("{", "{{").replace("}", "}}")
            if name is None:
                continue
            words = _field_texts(name, spec or "", conversion, numbers, params)
            if isinstance(words, str):
                fixed += words.replace("{", "{{").replace("}", "}}")
            else:
                fixed += "{}"
                fields.append(words)
    except _OneByOne:
        return [render(template, number, params) for number in numbers]
    return [fixed.format(*row) for row in zip(*fields)] if fields else [fixed] * len(numbers)


class _OneByOne(Exception):
    """A template field :func:`render_numbers` leaves to :func:`render`."""


def _field_texts(name: str, spec: str, conversion: str | None, numbers: list[float], params: dict) -> str | list[str]:
    """A field of :func:`render`'s words over ``numbers``: one text for all, or one per number."""
    if conversion is not None or "{" in spec or "value" in params or not name.isidentifier():
        raise _OneByOne
    try:
        if name in params:
            return format(params[name], spec)
        if name == "value":
            return [format(number, spec) for number in numbers]
        if name in _AGREEING:
            word = _AGREEING[name]
            return [format(word(number), spec) for number in numbers]
        if name in ("pct", "above", "up"):
            return [format(percent_words(number)[name], spec) for number in numbers]
        if name == "label":
            return format(label_words(params), spec)
    except (ValueError, TypeError):
        raise _OneByOne from None
    raise _OneByOne


def value_part(template: str) -> str | None:
    """The part of a sentence template that writes the value (``{value:,.0f}``, ``{pct} {above}``, ``{up}
    {size:.0f}``); ``None`` when it writes none."""
    spec = re.search(r"\{(value|size)(:[^}]*)?\}", template)
    if spec and spec.group(1) == "value":
        return "{value" + (spec.group(2) or "") + "}"
    if spec:
        return "{up} {size" + (spec.group(2) or "") + "}"
    if "{pct}" in template:
        return "{pct} {above}" if "{above}" in template else "{up} {pct}"
    return None


def _without_format_spec(template: str) -> str:
    return re.sub(r"\{(value|size)(:[^}]*)\}", r"{\1}", template)
