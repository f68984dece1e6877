"""The usage features as Featuretools computes them: one cutoff time per (account, as-of date).

The idiomatic Featuretools way to build a point-in-time panel: an EntitySet of
accounts and their events, a ``cutoff_time`` frame with one row per (account,
as-of date T) and aggregation features over each window (``use_previous``), all
computed by one ``calculate_feature_matrix`` call. Featuretools filters the events
of every cutoff time itself, as the project's panel does with its windows.

It computes, for the same rows as ``benchmarks/pandas_baseline.py`` (every account
whose subscription covers T), the columns Featuretools expresses directly, and
``tests/benchmarks/test_pandas_baseline.py`` checks them against ``build_features``:

- ``events_{w}d``: ``SUM(events.quantity)`` over the ``w`` days before T (null quantity = 1);
- ``events_{type}_{w}d``: ``SUM(events.quantity WHERE event_type = type)`` for the
  event types of the project's vocabulary (interesting values);
- ``active_users_{w}d``: ``NUM_UNIQUE(events.user_id)``;
- ``active_days_{w}d``: ``NUM_UNIQUE(events.active_day)``, the event's day where its
  quantity is above 0 (a day whose events sum to more than 0 has such an event:
  quantities are not negative);
- ``breadth_{w}d``: the vocabulary's types whose sum above is more than 0 (from
  the feature matrix, in pandas).

Featuretools keeps the events stamped at or before a cutoff time; the cutoff is
therefore set just before midnight of T (``T - 1 µs``), so an event stamped at T is
unseen, as it is for the project. Not computed: the trend, the slope, the days
since the last activity and the ratios (see the pandas baseline).
"""

from __future__ import annotations

import warnings
from datetime import date

import pandas as pd
from pipeline.config import Config

from benchmarks.pandas_baseline import active_accounts, event_type_columns, load_events, load_subscriptions

#: Just before midnight: Featuretools keeps events stamped at the cutoff time, the project does not.
BEFORE_T = pd.Timedelta(microseconds=1)


def entity_set(events: pd.DataFrame, accounts: pd.Index, types: list[str]):
    """Accounts and their events, the event types of the vocabulary as interesting values."""
    import featuretools as ft

    events = events.assign(active_day=events["day"].where(events["quantity"] > 0))
    events = events.reset_index(drop=True).rename_axis("event_id").reset_index()
    es = ft.EntitySet("bench")
    es.add_dataframe(dataframe_name="accounts", dataframe=pd.DataFrame({"account_id": accounts.astype(str)}),
                     index="account_id", logical_types={"account_id": "Categorical"})
    es.add_dataframe(
        dataframe_name="events", dataframe=events[["event_id", "account_id", "occurred_at", "event_type", "user_id",
                                                   "quantity", "active_day"]],
        index="event_id", time_index="occurred_at",
        logical_types={"account_id": "Categorical", "event_type": "Categorical", "user_id": "Categorical",
                       "quantity": "Double", "active_day": "Categorical"},
    )
    es.add_relationship("accounts", "account_id", "events", "account_id")
    es.add_interesting_values(dataframe_name="events", values={"event_type": types})
    return es


def window_features(es, windows, types: dict[str, str]) -> dict[str, object]:
    """Output column -> Featuretools feature, for every window."""
    import featuretools as ft
    from featuretools.primitives import NumUnique, Sum

    def column(name: str):
        return ft.IdentityFeature(es["events"].ww[name])

    quantity = column("quantity")
    out = {}
    for w in windows:
        previous = f"{w} days"
        out[f"events_{w}d"] = ft.Feature(quantity, parent_dataframe_name="accounts", primitive=Sum,
                                         use_previous=previous)
        out[f"active_users_{w}d"] = ft.Feature(column("user_id"), parent_dataframe_name="accounts",
                                               primitive=NumUnique, use_previous=previous)
        out[f"active_days_{w}d"] = ft.Feature(column("active_day"), parent_dataframe_name="accounts",
                                              primitive=NumUnique, use_previous=previous)
        for raw, name in types.items():
            out[f"events_{name}_{w}d"] = ft.Feature(quantity, parent_dataframe_name="accounts", primitive=Sum,
                                                    where=column("event_type") == raw, use_previous=previous)
    return out


def panel(folder, dates: list[date], cfg: Config | None = None) -> pd.DataFrame:
    """The usage features above for every snapshot date, by one ``calculate_feature_matrix`` call."""
    import featuretools as ft
    from pipeline.config import load_config

    warnings.filterwarnings("ignore", category=FutureWarning, module="featuretools")  # its pandas idioms, not ours
    cfg = cfg or load_config(None, {})
    windows = cfg.features.usage.windows
    events = load_events(folder)
    subs = load_subscriptions(folder)
    types = event_type_columns(events, cfg)
    cutoffs = pd.concat([pd.DataFrame({"account_id": active_accounts(subs, d).astype(str),
                                       "time": pd.Timestamp(d) - BEFORE_T, "as_of": d}) for d in dates],
                        ignore_index=True)
    es = entity_set(events, pd.Index(cutoffs["account_id"].unique()), list(types))
    features = window_features(es, windows, types)
    matrix = ft.calculate_feature_matrix(list(features.values()), entityset=es,
                                         cutoff_time=cutoffs[["account_id", "time"]], cutoff_time_in_index=True)
    matrix.columns = list(features)
    matrix = matrix.reset_index().rename(columns={"time": "as_of"})
    matrix["as_of"] = (matrix["as_of"] + BEFORE_T).dt.date
    for w in windows:
        matrix[f"breadth_{w}d"] = sum((matrix[f"events_{name}_{w}d"].fillna(0) > 0).astype(int)
                                      for name in types.values())
    counts = [c for c in matrix.columns if c.startswith(("events_", "active_"))]
    return matrix.fillna({c: 0 for c in counts})
