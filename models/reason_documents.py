"""Reason documents as the score table stores them: JSON per row and the sentences a CSM reads.

Sentences are rendered once per distinct (feature, value, direction), numbers
are turned into text once per distinct value, and the JSON is assembled
column-wise with Arrow string kernels (no per-row Python), so explaining every
account every night stays vectorised (:func:`models.reasons.explain` picks what to say; this module says it).
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.base import Feature

#: Decimals kept for contributions in the JSON (1e-6 log-odds is far below anything visible).
DECIMALS = 6


class Values:
    """Feature values by (row, column position): numbers as floats, categories as codes.

    Column-major, as they are filled and read: one feature column at a time.
    """

    def __init__(self, values: pd.DataFrame, columns: Sequence[str]):
        self.numbers = np.full((len(values), len(columns)), np.nan, order="F")
        self.codes = np.full((len(values), len(columns)), -1, dtype=np.int64, order="F")
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
        # + 0.0: -0.0 reads 0.0, so the text of a value never depends on which of the two was rendered first
        return number + 0.0 if math.isfinite(number) else None


_json_text = json.encoder.encode_basestring  # the C encoder behind json.dumps(ensure_ascii=False)


def _json_value(value: Any) -> str:
    return "null" if value is None else _json_text(value) if isinstance(value, str) else repr(value)


class Fragments:
    """JSON fragments and sentences of (row, group) picks, rendered once per distinct value.

    ``cache`` may be shared by the blocks of one explanation run on several threads: a value two blocks
    render at once is rendered twice, to the same text.
    """

    def __init__(self, features: Sequence[Feature], sums: np.ndarray, reps: np.ndarray, values: Values,
                 cache: dict | None = None):
        self.features, self.sums, self.reps, self.values = features, sums, reps, values
        self.heads = [f'{{"group": {_json_text(f.group)}, "feature": {_json_text(f.name)}, "value": '
                      for f in features]
        self._cache: dict[tuple, tuple[str, str]] = {} if cache is None else cache

    def pick(self, groups_of_rows: np.ndarray) -> tuple[pa.Array, pa.Array, np.ndarray]:
        """Fragments (without contribution), sentences (``""`` in empty slots) and a validity mask for one slot column.

        Both are Arrow text taken from the distinct renderings, not converted row by row.
        """
        valid = groups_of_rows >= 0
        rows = np.flatnonzero(valid)
        cols = groups_of_rows[valid]
        feature = self.reps[rows, cols]
        toward = self.sums[rows, cols] >= 0
        number = self.values.numbers[rows, feature]
        code = self.values.codes[rows, feature]
        # one number per distinct (feature, value's bits, category code, direction), in order of first appearance
        # as a group-by's ngroup(sort=False) numbers them: two hash passes cost a fifth of that group-by
        value, _ = pd.factorize(np.where(np.isnan(number), np.nan, number).view(np.int64))
        key = ((value * len(self.features) + feature) * (int(code.max(initial=-1)) + 2) + code + 1) * 2 + toward
        groups, distinct = pd.factorize(key)
        first = np.zeros(len(distinct), dtype=np.int64)
        first[groups[::-1]] = np.arange(len(groups))[::-1]
        picks = zip(feature[first].tolist(), number[first].tolist(), code[first].tolist(), toward[first].tolist())
        rendered = self._rendered(picks)
        index = np.zeros(len(valid), dtype=np.int64)  # 0: the empty text of an empty slot
        index[valid] = groups + 1
        frags = _strings([""] + [r[0] for r in rendered]).take(index)
        sentences = _strings([""] + [r[1] for r in rendered]).take(index)
        return frags, sentences, valid

    def _rendered(self, picks) -> list[tuple[str, str]]:
        """(fragment, sentence) of each (feature, number, code, direction) pick, from the cache where it was
        rendered before; a feature's new numbers are told together (:meth:`features.base.Feature.sentences`)."""
        keys: list[tuple] = []
        numbers: dict[tuple[int, bool], dict[float, None]] = {}  # per feature and direction, its new numbers
        for feature, number, code, toward_risk in picks:
            value = self.values.plain(feature, number, code)
            keys.append(key := (self.features[feature].name, value, toward_risk))
            if key in self._cache:
                continue
            if isinstance(value, float):
                numbers.setdefault((feature, toward_risk), {})[value] = None
            else:  # a category or a missing value
                self._keep(feature, value, toward_risk, self.features[feature].sentence(value, toward_risk=toward_risk))
        for (feature, toward_risk), values in numbers.items():
            told = self.features[feature].sentences(list(values), toward_risk=toward_risk)
            for value, sentence in zip(values, told):
                self._keep(feature, value, toward_risk, sentence)
        return [self._cache[key] for key in keys]

    def _keep(self, feature: int, value: Any, toward_risk: bool, sentence: str) -> None:
        head = self.heads[feature] + _json_value(value) + ', "sentence": ' + _json_text(sentence)
        self._cache[(self.features[feature].name, value, toward_risk)] = (head, sentence)


def join(columns: list, sep: str, empty: str = "") -> pd.api.extensions.ExtensionArray:
    """Join per-row strings (Arrow text or arrays of str) across columns, skipping empty ones (``empty`` where
    all are); one Arrow pass, the result Arrow text (:func:`texts`)."""
    if not columns:
        return texts(_strings([]))
    pieces = [column if isinstance(column, pa.Array) else pa.array(np.asarray(column, dtype=object), pa.large_string())
              for column in columns]
    return texts(_joined([pc.if_else(pc.equal(t, _text("")), _text(""), pc.binary_join_element_wise(_text(sep), t, _text("")))
                          for t in pieces], len(sep), empty))


def texts(array) -> pd.api.extensions.ExtensionArray:
    """Arrow text as a pandas array that keeps it in Arrow (``str`` per item, no Python copy of the whole).

    Documents stay in Arrow from the kernels that build them to the warehouse write, which hands them to the
    database as they are: 100,000 scored rows carry about 400 MB of JSON, and a round trip through Python
    strings cost more than building them.
    """
    return pd.arrays.ArrowExtensionArray(array if isinstance(array, (pa.Array, pa.ChunkedArray))
                                         else _strings(list(array)))


def _joined(pieces: list, lead: int, empty: str = "") -> pa.Array:
    """Concatenate ``pieces`` (each non-empty one starting with a ``lead``-character separator), dropping the first separator."""
    whole = pc.utf8_slice_codeunits(pc.binary_join_element_wise(*pieces, _text("")), start=lead)
    if empty:
        whole = pc.if_else(pc.equal(whole, _text("")), _text(empty), whole)
    return whole


def assemble(base: np.ndarray, sums: np.ndarray, slots: dict[str, np.ndarray], picked: dict
             ) -> pd.api.extensions.ExtensionArray:
    """The JSON document of every row (a float's text is its ``repr``, valid JSON), built column-wise in Arrow."""
    rows = np.arange(len(base))
    listed = np.zeros(len(base))
    parts: dict[str, pa.Array] = {}
    for name, picks in slots.items():
        pieces = []
        for column, (frags, _, valid) in zip(picks.T, picked[name]):
            contribution = np.where(valid, sums[rows, np.maximum(column, 0)], 0.0)
            listed += contribution
            piece = pc.binary_join_element_wise(_text(", "), frags,
                                                _text(', "contribution": '), _float_texts(np.round(contribution, DECIMALS)),
                                                _text("}"), _text(""))
            pieces.append(pc.if_else(pa.array(valid), piece, _text("")))
        parts[name] = _joined(pieces, 2) if pieces else _strings([""] * len(base))
    docs = pc.binary_join_element_wise(
        _text('{"base_value": '), _float_texts(np.round(base, DECIMALS)),
        _text(', "other": '), _float_texts(np.round(sums.sum(axis=1) - listed, DECIMALS)),
        _text(', "risk": ['), parts["risk"], _text('], "protective": ['), parts["protective"],
        _text('], "context": ['), parts["context"], _text("]}"), _text(""))
    return texts(docs)


def contributions_json(names: Sequence[str], sums: np.ndarray, features: Sequence[Feature] | None = None,
                       leads: np.ndarray | None = None, values: Values | None = None
                       ) -> pd.api.extensions.ExtensionArray:
    """Each row's group contributions as a JSON object (groups at 0.0 left out).

    Without ``features`` a group maps to its contribution (4 decimals): ``{"nps": 0.3123}``. With them
    (and ``leads``, the column position of each row's and group's leading member, and the ``values``)
    it maps to ``[contribution, leading feature, its value, the group in words]``:
    ``{"nps": [0.3123, "nps_last", 4.0, "NPS"]}``, what the next run needs to say in a sentence how the
    group moved (:func:`models.score_moves.why_moved`) and what a chart legend calls it.

    Only the non-zero cells are rendered, in one vectorised pass (row-major, so each row's groups keep
    their column order); numbers are converted once per distinct value.
    """
    rounded = np.round(sums, 4)
    rows, cols = np.nonzero(rounded != 0)
    cells = [_strings([_json_text(name) + ": " for name in names]).take(cols), _float_texts(rounded[rows, cols])]
    if features is not None and leads is not None and values is not None and len(leads):
        lead = leads[rows, cols]
        topics = _strings([", " + _json_text(features[first].topic) + "]" for first in leads[0]])
        cells = [cells[0], _text("["), cells[1], _text(", "), _strings([_json_text(f.name) + ", " for f in features]).take(lead),
                 _value_texts(values, rows, lead), topics.take(cols)]
    joined = pc.binary_join_element_wise(*cells, _text(""))
    bounds = pa.array(np.searchsorted(rows, np.arange(len(sums) + 1)), pa.int64())
    body = pc.binary_join(pa.LargeListArray.from_arrays(bounds, joined), _text(", "))
    return texts(pc.binary_join_element_wise(_text("{"), body, _text("}"), _text("")))


def _strings(texts) -> pa.Array:
    return pa.array(texts, pa.large_string())


def _text(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _float_texts(numbers: np.ndarray) -> pa.Array:
    """``numbers.astype(str)`` as an Arrow array, converting each distinct value once.

    Raises
    ------
    ValueError
        On a NaN or infinite number, which has no JSON text (the warehouse stores the documents unparsed).
    """
    if not np.isfinite(numbers).all():
        raise ValueError("a contribution is not a finite number: no JSON document can hold it")
    where, distinct = _distinct(numbers + 0.0)  # -0.0 reads 0.0 (see _value_texts)
    return _number_texts(distinct).take(where)


def _number_texts(numbers: np.ndarray) -> pa.Array:
    """``numbers.astype(str)`` (the shortest text that reads back as the same float) as Arrow text.

    A number of at most :data:`DECIMALS` decimals (what the documents hold), at least 1e-4 and below 1e9 in size, is
    written from its integer count of millionths by Arrow's kernels, which run without the GIL beside the other
    block's thread; every other number by Python's float ``repr``. Both write the same text: such a number is the
    float nearest a decimal of at most 15 significant digits, the shortest text that reads back as it is that
    decimal, and ``repr`` writes it positionally between 1e-4 and 1e16 (with ``.0`` when it is whole).
    """
    unit = 10 ** DECIMALS
    with np.errstate(invalid="ignore", over="ignore"):
        counts = np.rint(numbers * unit)
        fixed = (counts / unit == numbers) & (np.abs(counts) < 1e15) & (
            (np.abs(numbers) >= 1e-4) | ((numbers == 0) & ~np.signbit(numbers)))
    count = np.where(fixed, counts, 0).astype(np.int64)
    size = np.abs(count)
    fraction = pc.utf8_rtrim(pc.utf8_slice_codeunits(pc.cast(pa.array(size % unit + unit), pa.large_string()), 1), "0")
    texts = pc.binary_join_element_wise(
        pc.if_else(pa.array(count < 0), _text("-"), _text("")), pc.cast(pa.array(size // unit), pa.large_string()),
        _text("."), pc.if_else(pc.equal(fraction, _text("")), _text("0"), fraction), _text(""))
    others = np.flatnonzero(~fixed)
    if not len(others):
        return texts
    at = np.arange(len(numbers))
    at[others] = len(numbers) + np.arange(len(others))
    return pa.concat_arrays([texts, _strings(list(map(repr, numbers[others].tolist())))]).take(pa.array(at))


def _distinct(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of each number's distinct value, the distinct values): one hash pass (no sort), NaN one value."""
    where, distinct = pd.factorize(numbers.reshape(-1), use_na_sentinel=False)
    return where, np.asarray(distinct, dtype="float64")


def _value_texts(values: Values, rows: np.ndarray, columns: np.ndarray) -> pa.Array:
    """The value at (``rows[i]``, ``columns[i]``) as JSON text: a number (6 decimals), a quoted category, null."""
    numbers = values.numbers[rows, columns]
    finite = np.isfinite(numbers)
    # + 0.0: -0.0 and 0.0 are one value to the hash; without it the text depends on which comes first
    where, distinct = _distinct(np.round(numbers[finite], DECIMALS) + 0.0)
    texts = ["null"]
    index = np.full(len(numbers), len(distinct), dtype=np.int64)
    index[finite] = where
    for j, levels in values.levels.items():
        at = np.flatnonzero(columns == j)
        if len(at):
            codes = values.codes[rows[at], j]
            index[at] = np.where(codes >= 0, codes + len(distinct) + len(texts), len(distinct))
            texts += [_json_text(level) for level in levels]
    return pa.concat_arrays([_number_texts(distinct), _strings(texts)]).take(index)


def contribution(entry) -> float:
    """A group's contribution from either form :func:`contributions_json` writes (a number or a list)."""
    return float(entry[0] if isinstance(entry, list) else entry)


def contributions(document: Mapping[str, Any]) -> dict[str, float]:
    """Each group's contribution in a document :func:`contributions_json` wrote, read by :func:`contribution`."""
    return {g: contribution(entry) for g, entry in document.items()}
