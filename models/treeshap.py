"""Exact TreeSHAP contributions of a LightGBM model, fast enough for every account every night.

LightGBM's ``pred_contrib`` is exact but slow on many rows; here it runs once
per distinct decision path of each tree (see :func:`contributions`), which
gives the same numbers. :mod:`models.reasons` turns them into sentences.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

BASE = "base_value"
#: LightGBM reads |x| <= this as zero (and as missing where a split says so).
ZERO = 1e-35
#: Trees whose row groups are worked out and held together (one row number per row and tree).
TREE_CHUNK = 32
#: Rows whose sums are worked on together while trees are added (a 128 KB slice of each output column).
ADD_ROWS = 16_384


def contributions(model, X: pd.DataFrame, booster=None, matrix: np.ndarray | None = None) -> pd.DataFrame:
    """Exact TreeSHAP contributions of a LightGBM-backed model: ``model.contributions(X)``, faster.

    TreeSHAP of one tree depends on a row only through the side of every split
    of that tree the row falls on, so rows are grouped per tree by the
    intervals between the tree's thresholds (plus zero and missing, and
    categories by level) and LightGBM's own ``pred_contrib`` runs once per
    group and tree. The sum over trees is the full model's contribution, up to
    floating-point summation order. Models without a single-output LightGBM
    ``booster_`` fall back to ``model.contributions``.

    ``booster`` (default ``model.booster_``) may be a copy of the model's own (:func:`own_copy`): a thread
    explaining with a copy cannot race with predictions made meanwhile with the model's. ``matrix`` is the float
    matrix of ``X`` LightGBM reads (:func:`lightgbm_matrix` of the prepared rows) when the caller has made it, having
    checked that ``booster`` explains the model here (:func:`explained_here`).

    Returns
    -------
    pandas.DataFrame
        One column per model feature plus ``base_value``, indexed like ``X``.
    """
    booster = getattr(model, "booster_", None) if booster is None else booster
    if matrix is None:
        prepared = model.prepare(X)
        if not explained_here(booster, prepared.columns):
            return model.contributions(X)
        matrix = lightgbm_matrix(prepared, booster)
    values = tree_contributions(booster, matrix)
    return pd.DataFrame(values, columns=[*booster.feature_name(), BASE], index=X.index)


def explained_here(booster, columns) -> bool:
    """Whether :func:`contributions` computes a model's contributions itself, with ``booster`` (a single-output
    LightGBM booster over exactly the prepared ``columns``), rather than asking the model."""
    return (booster is not None and columns is not None and booster.num_model_per_iteration() == 1
            and booster.feature_name() == list(columns))


def own_copy(booster):
    """A copy of a LightGBM booster (the same trees and category levels; 5 ms for 200 trees).

    A booster keeps the tree range of the prediction it is running in itself (:func:`tree_contributions`), so two
    threads predicting with one booster race; each with its own copy cannot.
    """
    import lightgbm as lgb

    return lgb.Booster(model_str=booster.model_to_string())


def lightgbm_matrix(frame: pd.DataFrame, booster=None) -> np.ndarray:
    """``frame`` as LightGBM sees it, column-major: floats, categories as codes, NaN missing.

    The codes are those of the training levels of ``booster`` when it has them (a booster fitted on a frame);
    otherwise the frame's own (a prepared frame, :meth:`models.classifier.ChurnModel.prepare`, has the training
    levels; a booster fitted on a matrix, such as the time-to-churn model's, keeps none).
    """
    out = np.empty(frame.shape, order="F")
    levels = booster_levels(booster)
    for j, col in enumerate(frame.columns):
        series = frame[col]
        if isinstance(series.dtype, pd.CategoricalDtype):
            out[:, j] = category_codes(series, next(levels, None))
        else:
            out[:, j] = series.to_numpy(dtype="float64", na_value=np.nan)
    return out


def booster_levels(booster) -> Iterator:
    """The levels of each categorical column a booster fitted on a frame keeps, in column order (none for others)."""
    return iter(getattr(booster, "pandas_categorical", None) or [])


def category_codes(series: pd.Series, known: list | None = None) -> np.ndarray:
    """A categorical column as LightGBM reads it: the codes of its values among ``known`` levels (default its own)
    as floats, NaN where missing or not among them."""
    codes = series.cat.codes if known is None else pd.Categorical(series, categories=known).codes
    codes = np.asarray(codes, dtype="float64")
    return np.where(codes < 0, np.nan, codes)


def _splits(node: dict, out: dict) -> dict:
    """Feature -> thresholds of a tree's numeric splits (``None`` for categorical splits)."""
    if "split_feature" in node:
        feature = node["split_feature"]
        if node["decision_type"] == "==":
            out[feature] = None
        elif out.setdefault(feature, []) is not None:
            out[feature].append(float(node["threshold"]))
        _splits(node["left_child"], out)
        _splits(node["right_child"], out)
    return out


class _Bins:
    """Per feature, the interval of every row among all thresholds of all trees."""

    def __init__(self, X: np.ndarray, trees: list[dict]):
        thresholds: dict[int, set] = {}
        for splits in trees:
            for feature, values in splits.items():
                if values is not None:
                    thresholds.setdefault(feature, set()).update(values)
        self.edges = {f: np.array(sorted(v)) for f, v in thresholds.items()}
        self.index = {f: self._bin(X[:, f], e) for f, e in self.edges.items()}
        # computed here, not on first use: trees are read on several threads
        categorical = {f for splits in trees for f, values in splits.items() if values is None}
        self.categories = {f: np.where(np.isnan(X[:, f]), 0, X[:, f] + 1).astype(np.int64) for f in categorical}

    @staticmethod
    def _bin(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
        out = np.searchsorted(edges, x, side="left")  # splits send x <= threshold left
        out[x == 0] = edges.size + 1
        out[np.isnan(x)] = edges.size + 2
        return out

    def local(self, feature: int, thresholds: list | None) -> tuple[np.ndarray, int]:
        """Bin of every row among one tree's thresholds of ``feature``, and the number of bins."""
        if thresholds is None:
            codes = self.categories[feature]
            return codes, int(codes.max(initial=0)) + 1
        own = np.unique(thresholds)
        lookup = np.concatenate([np.searchsorted(own, self.edges[feature], side="left"), own.size + np.arange(3)])
        return lookup[self.index[feature]], own.size + 3


def _pattern_key(bins: _Bins, splits: dict, n: int) -> np.ndarray | None:
    """One integer per row naming its cell among a tree's thresholds; ``None`` if they overflow int64."""
    key, radix = np.zeros(n, dtype=np.int64), 1
    for feature, thresholds in splits.items():
        local, size = bins.local(feature, thresholds)
        if radix * size >= 2**62:
            return None
        key += local * radix
        radix *= size
    return key


def tree_contributions(booster, X: np.ndarray) -> np.ndarray:
    """``booster.predict(X, pred_contrib=True)``, computed once per distinct decision pattern per tree.

    Rows are grouped per tree on one thread per core (NumPy and pandas' hashing work without the GIL), then
    LightGBM runs tree after tree on one thread (concurrent calls on one booster with different trees race:
    it keeps the tree range of a prediction in the booster), then the sum runs on one thread per core again,
    each thread owning some output columns and adding the trees in order, so the result does not depend on
    the number of threads. Returned column-major (each feature's column contiguous, as the reasons read them).
    """
    n, width = X.shape
    if n == 0 or _has_tiny(X):  # values LightGBM rounds to zero: no shortcut, exact anyway
        return booster.predict(X, pred_contrib=True)
    trees = [_splits(t["tree_structure"], {}) for t in booster.dump_model()["tree_info"]]
    bins = _Bins(X, trees)
    out = np.zeros((n, width + 1), order="F")
    threads = max(1, min(os.cpu_count() or 1, width + 1))
    owned = [set(columns.tolist()) for columns in np.array_split(np.arange(width + 1), threads)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for start in range(0, len(trees), TREE_CHUNK):  # a chunk's row groups are held at once: bounded memory
            chunk = range(start, min(start + TREE_CHUNK, len(trees)))
            groups = list(pool.map(lambda t: _row_groups(bins, trees[t], n), chunk))
            patterns = [_tree_pattern(booster, X, t, trees[t], group) for t, group in zip(chunk, groups)]
            list(pool.map(lambda columns: _add_trees(out, patterns, columns), owned))
    return out


def _has_tiny(X: np.ndarray, columns: int = 8) -> bool:
    """Whether ``X`` holds a non-zero value LightGBM reads as zero (``|x| <= ZERO``), a few columns at a time
    (temporaries the size of ``X``, 100 MB for 100,000 scored rows, took longer to fault in than to compute)."""
    for start in range(0, X.shape[1], columns):
        block = X[:, start:start + columns]
        if np.any((np.abs(block) <= ZERO) & (block != 0)):
            return True
    return False


def _row_groups(bins: _Bins, splits: dict, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Per row, the number of its group among a tree's cells, and each group's first row (``None``: too many cells)."""
    key = _pattern_key(bins, splits, n)
    if key is None:
        return None
    codes, uniques = pd.factorize(key)
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[::-1]] = np.arange(n)[::-1]
    return codes, first


def _tree_pattern(booster, X: np.ndarray, t: int, splits: dict, groups) -> tuple:
    """Tree ``t``'s contributions: ``(codes, columns, phi)``, row ``i`` getting ``phi[codes[i]]`` in ``columns``.

    ``codes`` is ``None`` when the tree's cells were too many to number: ``phi`` is then per row.
    """
    width = X.shape[1]
    if groups is None:  # this tree row by row
        phi = booster.predict(np.ascontiguousarray(X), start_iteration=t, num_iteration=1, pred_contrib=True)
        return None, list(range(width + 1)), phi
    codes, first = groups
    cols = [*splits, width]
    # one thread: a call is one tree over its distinct patterns, too little work to pay OpenMP's fork and join
    phi = booster.predict(np.ascontiguousarray(X[first]), start_iteration=t, num_iteration=1, pred_contrib=True,
                          num_threads=1)[:, cols]
    return codes, cols, phi


def _add_trees(out: np.ndarray, patterns: list[tuple], owned: set) -> None:
    """Add every tree's contributions to the output columns ``owned``, tree after tree, a block of rows at a time.

    Each row's sum takes the trees in the same order whatever the blocks; a block's slice of the columns stays in
    the core's cache while the trees are added to it (over whole columns, every tree streamed them from memory:
    twice the time, and the two threads competed for it).
    """
    by_column = [(codes, cols, np.asfortranarray(phi)) for codes, cols, phi in patterns]
    for start in range(0, len(out), ADD_ROWS):
        rows = slice(start, start + ADD_ROWS)
        for codes, cols, phi in by_column:
            block = None if codes is None else codes[rows]
            for j, col in enumerate(cols):
                if col in owned:
                    out[rows, col] += phi[rows, j] if block is None else phi[:, j].take(block)
