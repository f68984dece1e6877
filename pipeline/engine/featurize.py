"""Build the feature table: one row per (account, as-of date), one column per feature.

The whole panel is one relational query on the source's engine: the frames of
``pipeline.engine.frames`` are aggregated per (account, as-of) with the definitions of
``features/`` and joined onto the spine. Only the final matrix comes back as a
pandas DataFrame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from features.base import Feature
from pipeline.engine import labels as labelling
from pipeline.engine.catalog import Vocabulary, catalog, resolve_vocabulary
from pipeline.engine.frames import Frames
from pipeline.config import Config

KEYS = ["account_id", "as_of"]
LABEL_COLUMNS = ["churned", "churn_date", "label_observed", "next_churn_date"]


@dataclass
class FeatureTable:
    """A built feature table and what it is made of.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``account_id``, ``as_of``, the feature columns and, for panels, the label columns.
    features : list of Feature
        The feature columns, in order.
    vocabulary : Vocabulary
    data_end : date
    seconds : float
        Wall time of the build.
    """

    frame: pd.DataFrame
    features: list[Feature]
    vocabulary: Vocabulary
    data_end: date
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features if f.kind == "categorical"]


def feature_query(source, spine, dates, cfg: Config, vocab: Vocabulary, features: list[Feature]):
    """The ibis expression of the feature table for ``spine`` (not executed)."""
    frames = Frames(source, spine, dates, cfg, vocab)
    by_frame: dict[str, list[Feature]] = {}
    for f in features:
        by_frame.setdefault(f.definition.frame, []).append(f)
    parts = []
    for name, members in by_frame.items():
        if name == "derived":
            continue
        frame = frames.frame(name)
        parts.append(frame.group_by(KEYS).aggregate(**{f.name: f.expression(frame, cfg.features) for f in members}))
    derived = by_frame.get("derived", [])
    inputs = frames.derived_inputs() if derived else None
    if inputs is not None:  # columns the derived definitions read besides the features (left out below)
        parts.append(inputs)
    result = attach(spine, *parts)
    if derived:
        result = result.mutate(**{f.name: f.expression(result, cfg.features) for f in derived})
    return result.select(*KEYS, *[f.name for f in features])


def attach(left, *rights):
    """Left-join each of ``rights`` onto ``left`` by (account_id, as_of), keeping one copy of the keys.

    One join chain and one select: a select after each join re-resolves every column selected so far (the SQL
    is the same; building the feature query took ~0.1 s less).
    """
    joined = left
    for right in rights:
        joined = joined.left_join(right, KEYS)
    extra = [c for right in rights for c in right.columns if c not in KEYS]
    return joined.select(*[joined[c] for c in left.columns], *[joined[c] for c in extra])


def build_features(
    source,
    cfg: Config,
    dates: list[date],
    *,
    vocab: Vocabulary | None = None,
    with_labels: bool = True,
    end: date | None = None,
) -> FeatureTable:
    """Compute features (and labels) for every account active on each of ``dates``.

    Parameters
    ----------
    source : pipeline.io.sources.Source
    cfg : pipeline.config.Config
    dates : list of date
        As-of dates; features at T see only what was known before T.
    vocab : Vocabulary, optional
        Event types and milestones to expand over (a model's own, when scoring);
        resolved from config or the data when omitted.
    with_labels : bool
        Add ``churned``, ``churn_date`` and ``label_observed``.
    end : date, optional
        First day not covered by the data (default: the day after the last event).
    """
    started = time.perf_counter()
    end = end or labelling.data_end(source)
    vocab = vocab or resolve_vocabulary(source, cfg, before=end)
    features = catalog(cfg, vocab, set(source.names), set(source.raw("accounts").columns))
    spine = labelling.spine(source, dates)
    query = feature_query(source, spine, dates, cfg, vocab, features)
    if with_labels:
        query = attach(query, labelling.labels(source, spine, cfg, end))
    frame = tidy(source.fetch(query), features)
    return FeatureTable(frame, features, vocab, end, time.perf_counter() - started)


def tidy(frame: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """Stable types and order: numeric features float64, categorical strings, sorted rows.

    A new frame (``frame`` is left as it is), built once from the converted columns and put in order with one
    ``take``: a copy, assignments column by column and a sorted copy re-indexed took 0.23-0.32 s on the 10 M-event
    bench world's panel (64,963 rows x 130 columns), this 0.15-0.18 s.
    """
    out = dict(frame.items())
    out["account_id"] = frame["account_id"].astype(str)
    out["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    for f in features:
        if f.kind == "categorical":
            out[f.name] = frame[f.name].astype("string")
        else:
            out[f.name] = pd.to_numeric(frame[f.name], errors="coerce").astype("float64")
    if "churned" in out:
        out["churned"] = frame["churned"].fillna(0).astype("int64")
        out["label_observed"] = frame["label_observed"].astype(bool)
        out["churn_date"] = pd.to_datetime(frame["churn_date"]).dt.date
        if "next_churn_date" in out:
            out["next_churn_date"] = pd.to_datetime(frame["next_churn_date"]).dt.date
    out = pd.DataFrame(out)
    order = out[KEYS].sort_values(KEYS, kind="stable").index
    out = out.take(order)
    out.index = pd.RangeIndex(len(out))
    return out
