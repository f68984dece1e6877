"""Reasons for a score, from LightGBM's exact per-row contributions.

LightGBM's ``pred_contrib`` (TreeSHAP) splits each row's raw score (log-odds)
into one contribution per feature plus a base value. Here the contributions of
features that share a reason group (several windows of one signal, see
``Feature.group``) are summed, groups are ordered by their summed contribution
(positive = toward churn) and each chosen group is described by the sentence of
its member that pushes hardest in the group's direction, rendered with that
member's value. Everything is vectorised over rows; only the final JSON strings
are built per row.

The JSON of one row::

    {"base_value": -3.1, "other": 0.42,
     "risk": [{"group": "urgent_tickets", "feature": "open_urgent_tickets", "value": 2.0,
               "contribution": 1.37, "sentence": "2 high/urgent support tickets still open"}, ...],
     "protective": [...], "context": [...]}

``risk`` holds up to ``top_k`` groups with a positive contribution, largest
first; ``protective`` up to ``top_k`` with a negative one, most negative first;
``context`` the configured context groups (contract timing: *when* an account
can churn rather than *why*), never ranked as reasons. ``other`` is the sum of
all groups not listed, so that ``base_value`` plus every listed contribution
plus ``other`` is the row's raw score.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from pipeline.errors import ModelError

BASE = "base_value"
#: Decimals kept for contributions in the JSON (1e-6 log-odds is far below anything visible).
DECIMALS = 6


@dataclass(frozen=True)
class Groups:
    """Reason groups of a model's features.

    Attributes
    ----------
    names : list of str
        Group names in order of first appearance among the features.
    members : list of numpy.ndarray
        Column positions of each group's features.
    features : list
        ``features.base.Feature`` per contribution column.
    """

    names: list[str]
    members: list[np.ndarray]
    features: list[Any]

    @classmethod
    def of(cls, columns: Sequence[str], features: Sequence[Any]) -> Groups:
        """Group the contribution ``columns`` with their feature definitions.

        Raises
        ------
        ModelError
            If a column has no feature definition.
        """
        by_name = {f.name: f for f in features}
        unknown = [c for c in columns if c not in by_name]
        if unknown:
            raise ModelError(f"the model uses features with no definition: {', '.join(unknown)}")
        ordered = [by_name[c] for c in columns]
        names: list[str] = []
        for f in ordered:
            if f.group not in names:
                names.append(f.group)
        members = [np.array([i for i, f in enumerate(ordered) if f.group == g]) for g in names]
        return cls(names, members, ordered)

    def family(self, group: str) -> str:
        """Signal family of a group (that of its first member)."""
        return self.features[self.members[self.names.index(group)][0]].family


@dataclass
class Explanations:
    """Reasons for every scored row.

    Attributes
    ----------
    reasons : list of str
        One JSON document per row (see the module docstring).
    summary : list of str
        One line per row for a CSM: the risk sentences joined by ``"; "``.
    group_contributions : pandas.DataFrame
        Summed contribution per reason group (rows x groups).
    first : numpy.ndarray
        Group of the first risk reason per row (``None`` when no group raises the risk).
    """

    reasons: list[str]
    summary: list[str]
    group_contributions: pd.DataFrame
    first: np.ndarray


def group_sums(contrib: np.ndarray, groups: Groups) -> np.ndarray:
    """Sum contributions per group: (rows x features) to (rows x groups)."""
    out = np.empty((contrib.shape[0], len(groups.names)))
    for j, idx in enumerate(groups.members):
        out[:, j] = contrib[:, idx].sum(axis=1)
    return out


def representatives(contrib: np.ndarray, sums: np.ndarray, groups: Groups) -> np.ndarray:
    """Per row and group, the member pushing hardest in the direction of the group's sum.

    With one exception this is the member with the largest absolute
    contribution; choosing by direction keeps a risk reason from quoting a
    member that actually lowers the risk.
    """
    out = np.empty(sums.shape, dtype=np.int64)
    for j, idx in enumerate(groups.members):
        if idx.size == 1:
            out[:, j] = idx[0]
            continue
        direction = np.where(sums[:, j] < 0, -1.0, 1.0)[:, None]
        out[:, j] = idx[np.argmax(contrib[:, idx] * direction, axis=1)]
    return out


def ranked(sums: np.ndarray, eligible: np.ndarray, top_k: int, sign: float) -> np.ndarray:
    """Top ``top_k`` eligible groups per row by ``sign * sum``; -1 where fewer qualify."""
    keyed = np.where(eligible[None, :], sign * sums, -np.inf)
    order = np.argsort(-keyed, axis=1, kind="stable")[:, :top_k]
    chosen = np.take_along_axis(keyed, order, axis=1) > 0
    return np.where(chosen, order, -1)


class _Sentences:
    """Memoised sentences: counts and flags repeat a lot across rows."""

    def __init__(self, features: list[Any]):
        self.features = features
        self.cache: dict[tuple, str] = {}

    def __call__(self, feature: int, value: Any, toward_risk: bool) -> str:
        key = (feature, value, toward_risk)
        text = self.cache.get(key)
        if text is None:
            text = self.features[feature].sentence(value, toward_risk=toward_risk)
            self.cache[key] = text
        return text


def _plain(value: Any) -> Any:
    """A JSON-ready Python value: NaN and NA become ``None``, numpy scalars plain."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def value_matrix(values: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Feature values as an object matrix of plain Python values (rows x features)."""
    out = np.empty((len(values), len(columns)), dtype=object)
    for j, col in enumerate(columns):
        series = values[col]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            numbers = series.to_numpy(dtype="float64", na_value=np.nan)
            out[:, j] = [None if x != x else x for x in numbers.tolist()]
        else:
            out[:, j] = [_plain(x) for x in series.astype(object).tolist()]
    return out


def explain(
    contributions: pd.DataFrame,
    values: pd.DataFrame,
    features: Sequence[Any],
    top_k: int = 3,
    context_groups: Sequence[str] = (),
) -> Explanations:
    """Turn per-row contributions into grouped, ordered reasons.

    Parameters
    ----------
    contributions : pandas.DataFrame
        One column per model feature plus ``base_value``; each row sums to the raw score.
    values : pandas.DataFrame
        The feature values of the same rows (at least the contribution columns), same order.
    features : sequence of features.base.Feature
        Definitions of (at least) the model's features.
    top_k : int
        Risk reasons and protective factors kept per row.
    context_groups : sequence of str
        Groups reported as context and never ranked as reasons.

    Returns
    -------
    Explanations
    """
    columns = [c for c in contributions.columns if c != BASE]
    groups = Groups.of(columns, features)
    contrib = contributions[columns].to_numpy(dtype="float64")
    base = contributions[BASE].to_numpy(dtype="float64")
    sums = group_sums(contrib, groups)
    reps = representatives(contrib, sums, groups)
    is_context = np.array([g in set(context_groups) for g in groups.names])
    risk = ranked(sums, ~is_context, top_k, 1.0)
    protective = ranked(sums, ~is_context, top_k, -1.0)
    context = np.flatnonzero(is_context)
    writer = _RowWriter(groups, sums, reps, value_matrix(values, columns))
    reasons, summary = writer.rows(base, risk, protective, context)
    first = np.array([groups.names[j] if j >= 0 else None for j in risk[:, 0]], dtype=object)
    frame = pd.DataFrame(sums, columns=groups.names, index=contributions.index)
    return Explanations(reasons, summary, frame, first)


class _RowWriter:
    """Builds the per-row JSON and summary from the vectorised selections."""

    def __init__(self, groups: Groups, sums: np.ndarray, reps: np.ndarray, values: np.ndarray):
        self.names = groups.names
        self.feature_names = [f.name for f in groups.features]
        self.raw_sums = sums
        self.sums = np.round(sums, DECIMALS)
        self.reps = reps
        self.values = values
        self.sentence = _Sentences(groups.features)

    def reason(self, row: int, group: int) -> dict:
        contribution = float(self.sums[row, group])
        feature = int(self.reps[row, group])
        value = self.values[row, feature]
        return {
            "group": self.names[group],
            "feature": self.feature_names[feature],
            "value": value,
            "contribution": contribution,
            "sentence": self.sentence(feature, value, contribution >= 0),
        }

    def rows(self, base: np.ndarray, risk: np.ndarray, protective: np.ndarray, context: np.ndarray):
        listed = np.concatenate([risk, protective, np.broadcast_to(context, (len(base), context.size))], axis=1)
        mask = listed >= 0
        picked = np.take_along_axis(self.raw_sums, np.where(mask, listed, 0), axis=1)
        other = np.round(self.raw_sums.sum(axis=1) - (picked * mask).sum(axis=1), DECIMALS)
        reasons, summary = [], []
        for i in range(len(base)):
            doc = {
                "base_value": round(float(base[i]), DECIMALS),
                "other": float(other[i]),
                "risk": [self.reason(i, j) for j in risk[i] if j >= 0],
                "protective": [self.reason(i, j) for j in protective[i] if j >= 0],
                "context": [self.reason(i, j) for j in context],
            }
            reasons.append(json.dumps(doc, ensure_ascii=False))
            summary.append("; ".join(r["sentence"] for r in doc["risk"]) or "No notable risk signals")
        return reasons, summary
