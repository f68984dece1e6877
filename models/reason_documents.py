"""Reason documents as the score table stores them: JSON per row and the sentences a CSM reads.

Sentences are rendered once per distinct (feature, value, direction) and the
JSON is assembled column-wise, so explaining every account every night stays
vectorised (:func:`models.reasons.explain` picks what to say; this module says it).
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from features.base import Feature

#: Decimals kept for contributions in the JSON (1e-6 log-odds is far below anything visible).
DECIMALS = 6


class Values:
    """Feature values by (row, column position): numbers as floats, categories as codes."""

    def __init__(self, values: pd.DataFrame, columns: Sequence[str]):
        self.numbers = np.full((len(values), len(columns)), np.nan)
        self.codes = np.full((len(values), len(columns)), -1, dtype=np.int64)
        self.levels: dict[int, list] = {}
        for j, col in enumerate(columns):
            series = values[col]
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                self.numbers[:, j] = series.to_numpy(dtype="float64", na_value=np.nan)
            else:
                codes, levels = pd.factorize(series.astype(object), use_na_sentinel=True)
                self.codes[:, j] = codes
                self.levels[j] = [str(level) for level in levels]

    def plain(self, feature: int, number: float, code: int) -> Any:
        """A value as JSON sees it: a float, a category string or ``None``."""
        if feature in self.levels:
            return self.levels[feature][code] if code >= 0 else None
        return number if math.isfinite(number) else None


_json_text = json.encoder.encode_basestring  # the C encoder behind json.dumps(ensure_ascii=False)


def _json_value(value: Any) -> str:
    return "null" if value is None else _json_text(value) if isinstance(value, str) else repr(value)


class Fragments:
    """JSON fragments and sentences of (row, group) picks, rendered once per distinct value."""

    def __init__(self, features: Sequence[Feature], sums: np.ndarray, reps: np.ndarray, values: Values):
        self.features, self.sums, self.reps, self.values = features, sums, reps, values
        self.heads = [f'{{"group": {_json_text(f.group)}, "feature": {_json_text(f.name)}, "value": '
                      for f in features]
        self._cache: dict[tuple, tuple[str, str]] = {}

    def pick(self, groups_of_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fragments (without contribution), sentences and a validity mask for one slot column."""
        valid = groups_of_rows >= 0
        rows = np.flatnonzero(valid)
        cols = groups_of_rows[valid]
        feature = self.reps[rows, cols]
        toward = self.sums[rows, cols] >= 0
        number = self.values.numbers[rows, feature]
        code = self.values.codes[rows, feature]
        keys = pd.DataFrame({"f": feature, "v": np.where(np.isnan(number), np.nan, number).view(np.int64),
                             "c": code, "t": toward})
        groups = keys.groupby(["f", "v", "c", "t"], sort=False).ngroup().to_numpy()
        first = np.zeros(groups.max() + 1 if len(groups) else 0, dtype=np.int64)
        first[groups[::-1]] = np.arange(len(groups))[::-1]
        picks = zip(feature[first].tolist(), number[first].tolist(), code[first].tolist(), toward[first].tolist())
        rendered = [self._render(*pick) for pick in picks]
        frags = np.full(len(valid), "", dtype=object)
        sentences = np.full(len(valid), "", dtype=object)
        if rendered:
            frags[valid] = np.array([r[0] for r in rendered], dtype=object)[groups]
            sentences[valid] = np.array([r[1] for r in rendered], dtype=object)[groups]
        return frags, sentences, valid

    def _render(self, feature: int, number: float, code: int, toward_risk: bool) -> tuple[str, str]:
        value = self.values.plain(feature, number, code)
        key = (feature, value, toward_risk)
        if key not in self._cache:
            sentence = self.features[feature].sentence(value, toward_risk=toward_risk)
            head = self.heads[feature] + _json_value(value) + ', "sentence": ' + _json_text(sentence)
            self._cache[key] = (head, sentence)
        return self._cache[key]


def join(columns: list, sep: str) -> list[str]:
    """Join per-row strings across columns, skipping empty ones."""
    return [sep.join(part for part in row if part) for row in zip(*columns)]


def assemble(base: np.ndarray, sums: np.ndarray, slots: dict[str, np.ndarray], picked: dict) -> np.ndarray:
    """The JSON document of every row (``repr`` of a float is valid JSON)."""
    rows = np.arange(len(base))
    listed = np.zeros(len(base))
    parts: dict[str, list[str]] = {}
    for name, picks in slots.items():
        pieces = []
        for column, (frags, _, valid) in zip(picks.T, picked[name]):
            contribution = np.where(valid, sums[rows, np.maximum(column, 0)], 0.0)
            listed += contribution
            numbers = np.round(contribution, DECIMALS).tolist()
            pieces.append([f'{f}, "contribution": {c!r}}}' if ok else ""
                           for f, c, ok in zip(frags, numbers, valid.tolist())])
        parts[name] = join(pieces, ", ") if pieces else [""] * len(base)
    head = zip(np.round(base, DECIMALS).tolist(), np.round(sums.sum(axis=1) - listed, DECIMALS).tolist())
    docs = [f'{{"base_value": {b!r}, "other": {o!r}, "risk": [{r}], "protective": [{p}], "context": [{c}]}}'
            for (b, o), r, p, c in zip(head, parts["risk"], parts["protective"], parts["context"])]
    return np.array(docs, dtype=object)


def contributions_json(names: Sequence[str], sums: np.ndarray, features: Sequence[Feature] | None = None,
                       leads: np.ndarray | None = None, values: Values | None = None) -> np.ndarray:
    """Each row's group contributions as a JSON object (groups at 0.0 left out).

    Without ``features`` a group maps to its contribution (4 decimals): ``{"nps": 0.3123}``. With them
    (and ``leads``, the column position of each row's and group's leading member, and the ``values``)
    it maps to ``[contribution, leading feature, its value, the group in words]``:
    ``{"nps": [0.3123, "nps_last", 4.0, "NPS"]}``, what the next run needs to say in a sentence how the
    group moved (:func:`models.score_moves.why_moved`) and what a chart legend calls it.
    """
    rounded = np.round(sums, 4)
    body = np.full(len(sums), "", dtype=object)
    names_json = np.array([_json_text(f.name) + ", " for f in features or ()], dtype=object)
    for j, name in enumerate(names):  # column-wise: one vectorised concatenation per group, not per cell
        column = rounded[:, j].astype(str).astype(object)
        if features is not None and leads is not None and values is not None:
            lead = leads[:, j]
            topic = ", " + _json_text(features[lead[0]].topic) + "]" if len(lead) else "]"
            column = "[" + column + ", " + names_json[lead] + _value_texts(values, lead) + topic
        body = body + np.where(rounded[:, j] != 0, (_json_text(name) + ": ") + column + ", ", "")
    return np.array(["{" + text[:-2] + "}" for text in body], dtype=object)


def _value_texts(values: Values, columns: np.ndarray) -> np.ndarray:
    """The value of each row's column ``columns[row]`` as JSON text: a number (6 decimals), a quoted category, null."""
    rows = np.arange(len(columns))
    numbers = values.numbers[rows, columns]
    finite = np.isfinite(numbers)
    out = np.where(finite, np.round(np.where(finite, numbers, 0.0), DECIMALS).astype(str), "null").astype(object)
    for j, levels in values.levels.items():
        at = np.flatnonzero(columns == j)
        if len(at):
            quoted = np.array([_json_text(level) for level in levels] + ["null"], dtype=object)
            codes = values.codes[at, j]
            out[at] = quoted[np.where(codes >= 0, codes, len(levels))]
    return out


def contribution(entry) -> float:
    """A group's contribution from either form :func:`contributions_json` writes (a number or a list)."""
    return float(entry[0] if isinstance(entry, list) else entry)
