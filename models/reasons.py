"""Reasons for a score, from LightGBM's exact per-row contributions (TreeSHAP, ``pred_contrib``).

Contributions of features sharing a reason group (several windows of one
signal, ``Feature.group``) are summed; groups are ordered by their sum
(positive = toward churn) and each is told by the sentence of its member that
pushes hardest in the group's direction, with that member's value. Selection
is vectorised; sentences are rendered once per distinct value and the JSON is
assembled column-wise. One row's JSON::

    {"base_value": -3.1, "other": 0.42,
     "risk": [{"group": "urgent_tickets", "feature": "open_urgent_tickets", "value": 2.0,
               "sentence": "2 high/urgent support tickets still open", "contribution": 1.37}, ...],
     "protective": [...], "context": [...]}

``risk``: up to ``top_k`` groups with a positive sum, largest first;
``protective``: up to ``top_k`` with a negative sum, most negative first;
``context``: groups saying *when* or *for whom* rather than *why* (features
declared ``direction="context"``: revenue, plan, tenure, renewal timing,
attributes; plus ``scoring.context_groups``), up to ``top_k`` by size, never
reasons. A directed feature is a risk reason only on the risky side of its
training median, and a protective factor only on the safe side. ``other`` sums the unlisted groups, so
``base_value`` + listed contributions + ``other`` = the row's raw score.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from models.errors import ModelError
from models.reason_documents import Fragments, Values, assemble, contributions_json, join, texts

BASE = "base_value"
NO_RISK = "No notable risk signals"
#: Rows explained together (see :func:`explain`). Smaller blocks reuse memory a fresh process would otherwise
#: fault in: the first explain of 100,000 bench rows took 1.8 s in blocks of 8,000, 2.0 s of 5,000 or 10,000,
#: 2.4 s of 20,000 and 3.8 s of 50,000 (two fresh processes each, 2 cores, quiet machine).
BLOCK_ROWS = 8_000


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
        names = list(dict.fromkeys(f.group for f in ordered))
        members = [np.array([i for i, f in enumerate(ordered) if f.group == g]) for g in names]
        return cls(names, members, ordered)


@dataclass
class Explanations:
    """Reasons for every scored row.

    Attributes
    ----------
    reasons : pandas Arrow-backed array of str
        One JSON document per row (see the module docstring). The three text fields are Arrow text
        (:func:`models.reason_documents.texts`): item ``i`` is a ``str``; ``numpy.asarray(..., dtype=object)``
        gives them as Python strings.
    summary : pandas Arrow-backed array of str
        One line per row for a CSM: the risk sentences joined by ``"; "``.
    group_contributions : pandas.DataFrame
        Summed contribution per reason group (rows x groups).
    first : numpy.ndarray
        Group of the first risk reason per row (``None`` when no group raises the risk).
    contributions : pandas Arrow-backed array of str, optional
        One JSON object per row, every reason group's contribution (log-odds, 4 decimals): what the
        next run compares against to say why the score moved (:func:`models.score_moves.why_moved`).
    """

    reasons: Any
    summary: Any
    group_contributions: pd.DataFrame
    first: np.ndarray
    contributions: Any = None

    @classmethod
    def concat(cls, parts: list[Explanations]) -> Explanations:
        """The explanations of consecutive blocks of rows as one."""
        contributions = None if parts[0].contributions is None else _concat([p.contributions for p in parts])
        return cls(_concat([p.reasons for p in parts]), _concat([p.summary for p in parts]),
                   pd.concat([p.group_contributions for p in parts]), np.concatenate([p.first for p in parts]),
                   contributions)

    def take(self, order) -> Explanations:
        """The explanations of the rows at positions ``order``, in that order."""
        rows = np.asarray(order)
        return Explanations(self.reasons[rows], self.summary[rows], self.group_contributions.iloc[rows],
                            np.asarray(self.first)[rows], None if self.contributions is None else self.contributions[rows])


def _concat(arrays: list):
    """Consecutive arrays of text as one; Arrow text stays Arrow, the blocks' arrays as the chunks of one array
    (no copy: rows are explained in the order the score table lists them, :func:`models.predict.predict`;
    copying 100,000 documents of 2.4 KB into fresh memory took 0.9 s at 10 M events)."""
    if isinstance(arrays[0], np.ndarray):
        return np.concatenate(arrays)
    return texts(pa.chunked_array([chunk for a in arrays for chunk in _chunks(pa.array(a))]))


def _chunks(array) -> list:
    return array.chunks if isinstance(array, pa.ChunkedArray) else [array]


def group_sums(contrib: np.ndarray, groups: Groups) -> np.ndarray:
    """Sum contributions per group: (rows x features) to (rows x groups)."""
    out = np.empty((contrib.shape[0], len(groups.names)))
    for j, idx in enumerate(groups.members):
        out[:, j] = contrib[:, idx].sum(axis=1)
    return out


def sides(numbers: np.ndarray, groups: Groups, medians: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """Per row and feature: is the value on its risky side, and on its safe side?

    A feature whose definition says higher values are riskier is on its risky
    side above the training median and on its safe side at or below it (and the
    mirror image for lower-is-riskier). Context features and missing values are
    on neither side, so they are never a risk or a protective reason. Without a
    median (a model trained before medians were kept) every directed value is
    allowed on both sides.
    """
    risky = np.zeros(numbers.shape, dtype=bool, order="F")  # column-major: set one feature column at a time
    safe = np.zeros(numbers.shape, dtype=bool, order="F")
    for j, f in enumerate(groups.features):
        sign = f.sign if hasattr(f, "sign") else 1
        if sign == 0:
            continue
        median = (medians or {}).get(f.name)
        present = ~np.isnan(numbers[:, j])
        if median is None or not math.isfinite(median):
            risky[:, j] = safe[:, j] = present
            continue
        above, below = numbers[:, j] > median, numbers[:, j] < median
        risky[:, j] = above if sign > 0 else below
        safe[:, j] = present & ~risky[:, j]
    return risky, safe


def representatives(contrib: np.ndarray, sums: np.ndarray, groups: Groups, risky: np.ndarray,
                    safe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row and group, the member that tells the group's reason, and whether one may.

    The member is the one pushing hardest in the direction of the group's sum among
    those whose value is on that side (risky for a positive sum, safe for a negative
    one): a risk reason never quotes a member that lowers the risk, nor a value on
    the safe side of its direction ("milestone done on time" is no risk). A group
    may speak only when such a member pushes its way.
    """
    out = np.empty(sums.shape, dtype=np.int64)
    speaks = np.zeros(sums.shape, dtype=bool)
    for j, idx in enumerate(groups.members):
        toward = sums[:, j] >= 0
        direction = np.where(toward, 1.0, -1.0)[:, None]
        allowed = np.where(toward[:, None], risky[:, idx], safe[:, idx])
        push = np.where(allowed, contrib[:, idx] * direction, -np.inf)
        best = np.argmax(push, axis=1)
        out[:, j] = idx[best]
        speaks[:, j] = np.take_along_axis(push, best[:, None], axis=1)[:, 0] > 0
    return out, speaks


def ranked(sums: np.ndarray, eligible: np.ndarray, top_k: int, sign: float) -> np.ndarray:
    """Top ``top_k`` eligible groups per row by ``sign * sum``; -1 where fewer qualify.

    ``eligible`` is per group (1-D) or per row and group (2-D).
    """
    eligible = np.broadcast_to(eligible, sums.shape)
    keyed = np.where(eligible, sign * sums, -np.inf)
    order = np.argsort(-keyed, axis=1, kind="stable")[:, :top_k]
    chosen = np.take_along_axis(keyed, order, axis=1) > 0
    return np.where(chosen, order, -1)


def explain(
    contributions: pd.DataFrame,
    values: pd.DataFrame,
    features: Sequence[Any],
    top_k: int = 3,
    context_groups: Sequence[str] = (),
    medians: dict | None = None,
    causes: dict | None = None,
    rows: np.ndarray | None = None,
) -> Explanations:
    """Turn per-row contributions into grouped, ordered reasons.

    Rows are independent: they are explained in blocks of :data:`BLOCK_ROWS` on one thread per core (the
    work is NumPy and Arrow kernels, which run without the GIL), and a block's text arrays stay small enough
    to be reused rather than fresh memory for every piece of every document.

    Parameters
    ----------
    contributions : pandas.DataFrame
        One column per model feature plus ``base_value``; each row sums to the raw score.
    values : pandas.DataFrame
        Feature values of the same rows in the same order (at least the contribution columns).
    features : sequence of features.base.Feature
        Definitions of (at least) the model's features.
    top_k : int
        Risk reasons, protective factors and context items kept per row.
    context_groups : sequence of str
        Groups reported as context and never ranked as reasons, beside those whose
        features are all declared ``context`` (revenue, plan, tenure, renewal timing...).
    medians : dict, optional
        Training median per feature (``ChurnModel.medians_``): where the risky side of
        each directed feature begins (see :func:`sides`).
    causes : dict, optional
        Effect group -> the groups that cause it (disengagement -> more tickets). When a
        row lists both among its risk reasons, the cause is read first (:func:`cause_first`).
    rows : numpy.ndarray, optional
        Positions of the rows to explain, in the order wanted (default: every row, in order); each block takes
        its own rows on its thread, rather than the caller reordering both tables first on one.

    Returns
    -------
    Explanations
    """
    starts = range(0, len(contributions) if rows is None else len(rows), BLOCK_ROWS)
    renders: dict = {}  # every block's sentences, rendered once per (feature, value, direction) for the whole call
    if len(starts) <= 1 and rows is None:
        return _explain_block(contributions, values, features, top_k, context_groups, medians, causes, renders)
    Groups.of([c for c in contributions.columns if c != BASE], features)  # unknown features: one error, not one per block

    def block(start: int) -> Explanations:
        taken = slice(start, start + BLOCK_ROWS) if rows is None else rows[start:start + BLOCK_ROWS]
        return _explain_block(contributions.iloc[taken], values.iloc[taken], features, top_k, context_groups, medians,
                              causes, renders)

    if len(starts) <= 1:
        return block(0)

    with ThreadPoolExecutor(max_workers=min(len(starts), os.cpu_count() or 1)) as pool:
        return Explanations.concat(list(pool.map(block, starts)))


def _explain_block(contributions: pd.DataFrame, values: pd.DataFrame, features: Sequence[Any], top_k: int,
                   context_groups: Sequence[str], medians: dict | None, causes: dict | None,
                   renders: dict | None = None) -> Explanations:
    """:func:`explain` of one block of rows (``renders``: the sentences rendered so far, shared between blocks)."""
    columns = [c for c in contributions.columns if c != BASE]
    groups = Groups.of(columns, features)
    contrib = contributions[columns].to_numpy(dtype="float64")
    sums = group_sums(contrib, groups)
    table_values = Values(values, columns)
    declared = [all(getattr(groups.features[i], "sign", 1) == 0 for i in idx) for idx in groups.members]
    is_context = np.isin(groups.names, list(context_groups)) | np.array(declared, dtype=bool)
    risky, safe = sides(table_values.numbers, groups, medians)
    in_context = np.zeros(len(columns), dtype=bool)  # members of context groups are quoted on either side
    for idx, context in zip(groups.members, is_context):
        in_context[idx] = context
    reps, speaks = representatives(contrib, sums, groups, risky | in_context, safe | in_context)
    slots = {
        "risk": cause_first(ranked(sums, speaks & ~is_context, top_k, 1.0), groups.names, causes or {}),
        "protective": ranked(sums, speaks & ~is_context, top_k, -1.0),
        "context": _by_size(np.abs(sums), is_context, top_k),
    }
    table = Fragments(groups.features, sums, reps, table_values, renders)
    picked = {name: [table.pick(column) for column in picks.T] for name, picks in slots.items()}
    reasons = assemble(contributions[BASE].to_numpy(dtype="float64"), sums, slots, picked)
    summary = join([s for _, s, _ in picked["risk"]], "; ", NO_RISK) if slots["risk"].shape[1] else \
        texts([NO_RISK] * len(contrib))
    first = np.array(groups.names + [None], dtype=object)[slots["risk"][:, 0]]
    leads = np.stack([idx[np.abs(contrib[:, idx]).argmax(axis=1)] for idx in groups.members], axis=1) \
        if len(contrib) else np.zeros((0, len(groups.names)), dtype=np.int64)
    return Explanations(reasons, summary, pd.DataFrame(sums, columns=groups.names, index=contributions.index), first,
                        contributions_json(groups.names, sums, groups.features, leads, table_values))


def cause_first(order: np.ndarray, names: Sequence[str], causes: dict) -> np.ndarray:
    """Move a cause group in front of its effect in each row's reasons when both are listed.

    ``order`` holds group positions per row (-1 = empty slot); the other groups keep their order.
    """
    index = {n: i for i, n in enumerate(names)}
    out = order.copy()
    for effect, its_causes in causes.items():
        e, cs = index.get(effect), [index[c] for c in its_causes if c in index]
        if e is None or not cs:
            continue
        for row in np.flatnonzero((out == e).any(axis=1) & np.isin(out, cs).any(axis=1)):
            slots = out[row].tolist()
            at = slots.index(e)
            later = next((k for k in range(at + 1, len(slots)) if slots[k] in cs), None)
            if later is not None:
                slots.insert(at, slots.pop(later))
                out[row] = slots
    return out


def _by_size(size: np.ndarray, eligible: np.ndarray, top_k: int) -> np.ndarray:
    """Up to ``top_k`` eligible groups per row, largest ``size`` first (every eligible one, even at 0)."""
    keyed = np.where(eligible[None, :], size, -np.inf)
    order = np.argsort(-keyed, axis=1, kind="stable")[:, :min(top_k, int(eligible.sum()))]
    return order


