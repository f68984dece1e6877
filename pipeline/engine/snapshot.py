"""One way to build a snapshot: open the data, validate it, find its end, pick the dates, build.

Every step that needs features (``churn features``, ``train``, ``score``, on
every engine) goes through :func:`open_snapshot`, so the sequence and its
checks exist once.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Iterator

from features.base import Feature
from pipeline.contract.validate import ensure_valid
from pipeline.engine.catalog import Vocabulary, catalog, resolve_vocabulary
from pipeline.engine.engines import Engine, get_engine
from pipeline.engine.featurize import FeatureTable, build_features, feature_query
from pipeline.engine.labels import data_end, snapshot_dates, spine
from models.errors import ChurnError
from pipeline.io.sources import Source
from pipeline.config import Config


@dataclass
class Snapshot:
    """An open, validated source and the as-of dates to build features for.

    Attributes
    ----------
    cfg : pipeline.config.Config
    engine : pipeline.engine.engines.Engine
    source : pipeline.io.sources.Source
        Open until the ``with`` block of :func:`open_snapshot` ends.
    data_end : date
        The first day the data does not cover.
    known_until : date
        Nothing after this day is used: the data end, or ``--train-until`` for a panel.
    dates : list of date
        The as-of dates.
    vocabulary : Vocabulary
        Event types and milestones to expand over (a model's own when scoring).
    """

    cfg: Config
    engine: Engine
    source: Source
    data_end: date
    known_until: date
    dates: list[date]
    vocabulary: Vocabulary
    _features: list[Feature] | None = field(default=None, init=False, repr=False)

    @property
    def as_of(self) -> date:
        """The (last) as-of date."""
        return self.dates[-1]

    def features(self) -> list[Feature]:
        """The feature definitions this config, vocabulary and data produce (worked out, and warned about, once)."""
        if self._features is None:
            self._features = catalog(self.cfg, self.vocabulary, set(self.source.names),
                                     set(self.source.raw("accounts").columns))
        return self._features

    def query(self):
        """The ibis expression of the feature table (not executed)."""
        return feature_query(self.source, spine(self.source, self.dates), self.dates, self.cfg,
                             self.vocabulary, self.features())

    def build(self, with_labels: bool) -> FeatureTable:
        """Execute the feature table (with labels as known on :attr:`known_until`)."""
        return build_features(self.source, self.cfg, self.dates, vocab=self.vocabulary,
                              with_labels=with_labels, end=self.known_until)


@contextmanager
def open_snapshot(cfg: Config, *, as_of: date | None = None, panel: bool = False, until: date | None = None,
                  vocabulary: Vocabulary | Callable[[], Vocabulary] | None = None, validate: bool = True,
                  progress: Callable[[str], None] = lambda msg: None) -> Iterator[Snapshot]:
    """Open ``cfg.data`` on ``cfg.engine``, validate it and settle the dates.

    Parameters
    ----------
    cfg : pipeline.config.Config
    as_of : date, optional
        One as-of date (default: the data end). Refused after the data end.
    panel : bool
        Every snapshot date of the config (``snapshots:``) up to ``until`` instead of one date.
    until : date, optional
        With ``panel``: use only what was known on this date (default and cap: the data end).
    vocabulary : Vocabulary or callable, optional
        A model's own vocabulary; default resolved from the config or the data before :attr:`known_until`.
        A callable is called once the data is checked and its dates settled: ``churn score`` loads its
        model on another thread meanwhile.
    validate : bool
        Run the contract checks first (errors stop here, before anything is built).

    Raises
    ------
    DataContractError
        When the data breaks the contract.
    ChurnError
        For an as-of date after the data end.
    """
    engine = get_engine(cfg.engine)
    with engine.source(cfg) as source:
        if validate:
            ensure_valid(source)
        end = data_end(source)
        if panel:
            known = min(until or end, end)
            if until and until > end:
                progress(f"--train-until {until} is after the data's end; using the data end {end}")
            dates = snapshot_dates(source, cfg, known)
            if not dates:
                raise ChurnError(f"no {cfg.snapshots.frequency} snapshot date fits the data up to {known}: the "
                                 f"history is shorter than snapshots.warmup_days ({cfg.snapshots.warmup_days}) "
                                 "plus one step, or snapshots.first / snapshots.last leave none")
        else:
            known, dates = end, [as_of or end]
            if dates[0] > end:
                raise ChurnError(f"--as-of {dates[0]} is after the end of the data ({end}): "
                                 "features would count days that are not in the data")
        vocab = (vocabulary() if callable(vocabulary) else vocabulary) or resolve_vocabulary(source, cfg, before=known)
        yield Snapshot(cfg, engine, source, end, known, dates, vocab)
