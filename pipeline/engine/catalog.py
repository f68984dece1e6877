"""Which concrete feature columns a build produces.

Templates in ``features/`` expand over the configured windows, the event types
and milestone names found in the data (or listed in config) and the configured
attribute columns. Features whose optional table is absent are dropped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date

import ibis
import pandas as pd

import features  # noqa: F401  (registers the definitions)
from features.base import REGISTRY, Feature
from models.errors import ConfigError
from pipeline.config import Config

log = logging.getLogger("churn")

def usage_lookback(cfg: Config) -> int:
    """Days of usage history joined to each snapshot: the longest window any usage feature reads."""
    return max(usage_window_offsets(cfg))


def usage_window_offsets(cfg: Config) -> list[int]:
    """Every window boundary (days before the as-of date) any usage feature reads."""
    usage = cfg.features.usage
    weeks = [7 * k for k in range(1, usage.slope_weeks + 1)]
    return sorted({*usage.windows, usage.trend_days, 2 * usage.trend_days, *weeks})


def user_window_offsets(cfg: Config) -> list[int]:
    """Window boundaries (days before the as-of date) the distinct-user features read."""
    usage = cfg.features.usage
    return sorted({*usage.windows, usage.trend_days, 2 * usage.trend_days})


def column_name(value: str) -> str:
    """A SQL-safe, lower-case column fragment for a data value (event type, milestone)."""
    name = re.sub(r"[^a-z0-9]+", "_", str(value).lower()).strip("_")
    return name or "blank"


def _unique_names(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        base = column_name(value)
        name, k = base, 2
        while name in out.values():
            name, k = f"{base}_{k}", k + 1
        out[value] = name
    return out


@dataclass(frozen=True)
class Vocabulary:
    """Data values that become columns: event types and milestone names.

    Resolved once (from config or the data) and stored with a model, so the
    columns of a scoring run match the columns the model was trained on.
    """

    event_types: dict[str, str] = field(default_factory=dict)
    milestones: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, event_types: list[str], milestones: list[str]) -> Vocabulary:
        return cls(_unique_names(sorted(event_types)), _unique_names(sorted(milestones)))

    def to_dict(self) -> dict[str, list[str]]:
        return {"event_types": list(self.event_types), "milestones": list(self.milestones)}

    @classmethod
    def from_dict(cls, data: dict[str, list[str]]) -> Vocabulary:
        return cls.of(data.get("event_types", []), data.get("milestones", []))


def resolve_vocabulary(source, cfg: Config, before: date | None = None) -> Vocabulary:
    """Event types and milestones from config, or the most frequent ones in the data.

    With ``before``, event types are counted on the events stamped before that
    day only, so a model rebuilt "as known on" a past date has that day's columns.
    """
    usage = cfg.features.usage
    if usage.event_types == "auto":
        counts = source.event_summary().query("n > 0")
        if before is not None and pd.Timestamp(counts["last"].max()) >= pd.Timestamp(before):
            events = source.table("usage_events")
            events = events.filter(events.occurred_at < ibis.literal(before).cast("timestamp"))
            counts = events.group_by("event_type").aggregate(n=events.count()).execute()
        counts = counts.sort_values(["n", "event_type"], ascending=[False, True])
        types = [t for t in counts["event_type"].head(usage.max_event_types) if t is not None]
    else:
        types = list(usage.event_types)
    wanted = cfg.features.milestones.milestones
    if not source.has("milestones"):
        names: list[str] = []
    elif wanted == "auto":
        ms = source.table("milestones")
        names = [m for m in ms.select("milestone").distinct().execute()["milestone"] if m is not None]
    else:
        names = list(wanted)
    return Vocabulary.of(types, names)


def context_params(cfg: Config, vocab: Vocabulary) -> dict:
    """Parameters every definition may use in its docstring and sentences."""
    return {
        "trend": cfg.features.usage.trend_days,
        "weeks": cfg.features.usage.slope_weeks,
        "lookback": usage_lookback(cfg),
        "resolution": cfg.features.tickets.resolution_days,
        "csat_days": cfg.features.tickets.csat_days,
        "max_age": cfg.features.tickets.max_age_days,
        "relevance": cfg.features.milestones.relevance_days,
        "mrr_days": cfg.features.mrr_change_days,
        "addon_days": cfg.features.subscriptions.addon_change_days,
        "horizon": cfg.labels.horizon_days,
        "events": list(vocab.event_types.values()),
    }


def _expansions(per: str | None, cfg: Config, vocab: Vocabulary, attributes: set[str] | None) -> list[dict]:
    windows = cfg.features.usage.windows
    longest = max(windows, default=0)
    short = [{"window": w, "baseline": longest} for w in windows if w < longest]  # ratios to the longest window
    types = [{"event_type": raw, "event": col} for raw, col in vocab.event_types.items()]
    if per is None:
        return [{}]
    if per == "window":
        return [{"window": w} for w in windows]
    if per == "short_window":
        return short
    if per == "year_ago_short_window":  # only when asked for (features.usage.year_ago)
        return short if cfg.features.usage.year_ago else []
    if per == "ticket_window":
        return [{"window": w} for w in cfg.features.tickets.windows]
    if per == "event_type_window":
        return [{**t, "window": w} for t in types for w in windows]
    if per == "event_type_short_window":
        return [{**t, **s} for t in types for s in short]
    if per == "milestone":
        return [{"milestone_name": raw, "milestone": col} for raw, col in vocab.milestones.items()]
    if per in ("categorical_attribute", "numeric_attribute"):
        configured = getattr(cfg.features.attributes, per.split("_")[0])
        return [{"attribute": a} for a in configured if attributes is None or a in attributes]
    raise ValueError(f"unknown expansion {per!r}")


def catalog(
    cfg: Config, vocab: Vocabulary, tables: set[str], account_columns: set[str] | None = None
) -> list[Feature]:
    """Every feature column of a build, in a stable order.

    Parameters
    ----------
    cfg : pipeline.config.Config
    vocab : Vocabulary
    tables : set of str
        Contract tables present in the source; features needing others are dropped.
    account_columns : set of str, optional
        Columns of the accounts table; configured attributes missing there are dropped.
    """
    base = context_params(cfg, vocab)
    attributes = cfg.features.attributes
    missing = [a for a in [*attributes.categorical, *attributes.numeric]
               if account_columns is not None and a not in account_columns]
    if missing:
        log.warning("accounts has no column %s (features.attributes): not used", ", ".join(missing))
    out: list[Feature] = []
    for definition in REGISTRY:
        if not set(definition.requires) <= tables:
            continue
        for params in _expansions(definition.per, cfg, vocab, account_columns):
            merged = {**base, **params}
            out.append(Feature(definition.name.format(**merged), definition, merged))
    names = [f.name for f in out]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ConfigError(f"feature names collide: {sorted(duplicates)}: an event type, milestone or attribute "
                          "of the data gives the column name of another feature; list the names to use in "
                          "features.usage.event_types / features.milestones.milestones / features.attributes")
    return out
