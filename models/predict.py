"""Apply a fitted model to a batch of feature rows: probabilities and grouped reasons.

One pure function serves every engine: the local engine calls it on the whole
feature table, the Spark engine on each partition inside ``mapInPandas``.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.reasons import Explanations, explain
from models.treeshap import contributions, explained_here, own_copy

#: Columns :func:`score_rows` adds to the feature rows.
SCORE_COLUMNS = ["churn_probability", "reasons", "reason_summary", "contributions"]


@dataclass(frozen=True)
class Predictions:
    """P(churn) of every row of a batch, and its reasons built on demand, in the order they are listed.

    Building the reason documents in the score table's order (by rank) spares copying 100,000 documents of
    2.4 KB into that order afterwards (about 1 s at 10 M events). :meth:`take` and
    :meth:`models.reasons.Explanations.take` mean the same, so callers take from either. The rows'
    TreeSHAP contributions, which do not depend on that order, are computed from the start on another
    thread (``pending``, see :func:`predict`) while the caller works out the order.
    """

    probability: np.ndarray
    model: Any
    frame: pd.DataFrame
    features: Any
    top_k: int
    context_groups: list
    causes: dict | None = None
    pending: Future | None = None

    def take(self, order=None) -> Explanations:
        """The explanations of the rows at positions ``order`` (default: every row, in order), in that order."""
        contrib = self.pending.result() if self.pending is not None else contributions(self.model, self.frame)
        # TreeSHAP in the frame's order (on rows taken out of it, it took 0.3 s longer); each block of reasons
        # takes its rows of both tables on its own thread (reordering them first took 0.4 s on this one)
        return explain(contrib, self.frame, self.features, self.top_k, self.context_groups,
                       medians=getattr(self.model, "medians_", None), causes=self.causes,
                       rows=None if order is None else np.asarray(order))


def predict(model, frame: pd.DataFrame, features, top_k: int, context_groups,
            causes: dict | None = None) -> Predictions:
    """Calibrated P(churn) of every row of ``frame``, its grouped TreeSHAP reasons on demand.

    Parameters
    ----------
    model : models.classifier.ChurnModel
    frame : pandas.DataFrame
        Feature rows typed as the feature builder types them.
    features : list of features.base.Feature
        The definitions behind the columns (reason sentences come from them).
    top_k : int
        Risk reasons (and protective factors) kept per row.
    context_groups : list of str
        Reason groups shown as context, never as risks.
    causes : dict, optional
        Effect group -> its cause groups: when both are risk reasons, the cause is read first.
    """
    booster = getattr(model, "booster_", None)
    if not explained_here(booster, getattr(model, "feature_names_", None)):  # the model's own contributions, later
        probability = model.predict_risk(model.prepare(frame))
        pending = None
    else:  # one float matrix, typed straight from the rows, for the prediction and TreeSHAP, which starts first
        matrix = model.matrix(frame)
        pending = _contributions_started(model, frame, booster, matrix)
        probability = model.predict_risk(matrix)
    return Predictions(np.asarray(probability, dtype="float64"), model, frame, features, top_k,
                       list(context_groups), causes, pending)


def _contributions_started(model, frame: pd.DataFrame, booster, matrix: np.ndarray) -> Future:
    """TreeSHAP of the rows of ``frame`` (``matrix`` as LightGBM reads them) running on a thread of its own, with its
    own copy of ``booster``, so that a scoring run's prediction, drift check, curves and ranking overlap with it."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churn-treeshap")
    try:
        return pool.submit(contributions, model, frame, own_copy(booster), matrix)
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one task


def predict_and_explain(model, frame: pd.DataFrame, features, top_k: int,
                        context_groups, causes: dict | None = None) -> tuple[np.ndarray, Explanations]:
    """Calibrated P(churn) and the grouped TreeSHAP reasons of every row of ``frame``, in its order
    (:func:`predict`, every row explained)."""
    predictions = predict(model, frame, features, top_k, context_groups, causes)
    return predictions.probability, predictions.take()


def score_rows(model, frame: pd.DataFrame, features, top_k: int, context_groups, causes: dict | None = None
               ) -> pd.DataFrame:
    """``frame`` with :data:`SCORE_COLUMNS` added (reasons as JSON text, the form the warehouse stores)."""
    probability, explained = predict_and_explain(model, frame, features, top_k, context_groups, causes)
    contributions = None if explained.contributions is None else _strings(explained.contributions)
    return frame.assign(churn_probability=probability, reasons=_strings(explained.reasons),
                        reason_summary=_strings(explained.summary), contributions=contributions)


def _strings(texts) -> list[str]:
    """Python strings (what Spark's Arrow transfer of a pandas frame takes) of an array of text."""
    return [str(t) for t in np.asarray(texts, dtype=object)]
