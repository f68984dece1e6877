"""A date-wide shift: usage that fell for most accounts at once (a holiday, a summer lull, a quarter end).

Feature drift (:mod:`models.drift`) compares today's accounts with the training data one feature at a time,
so a holiday week, when every account's usage is below its own average, reads as drift of every
usage-vs-baseline feature. This check reads the same thing the other way round: when the usage of most
accounts fell against their own baseline in the shortest window, the change is shared by the date, not
something each account does, and the drift of the usage features is put down to it in one warning.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.base import Feature

#: The definition read for "usage fell" (its shortest window) and the one that takes the shared change out.
OWN_CHANGE = "events_{window}d_vs_baseline"
SHARED_CHANGE_TAKEN_OUT = "events_{window}d_vs_all_accounts"


@dataclass(frozen=True)
class DateShift:
    """Usage that fell for most accounts on one as-of date.

    Attributes
    ----------
    share : float
        Share of the accounts (with a baseline) whose usage in the last ``window`` days is below their own
        baseline.
    window : int
        Days of the short window read.
    accounts : int
        Accounts with a baseline.
    adjusted : bool
        Whether the model reads usage against all accounts on the date (so its risk is adjusted for the shift).
    explains : tuple of str
        Drifted usage features the shift accounts for.
    """

    share: float
    window: int
    accounts: int
    adjusted: bool
    explains: tuple[str, ...] = ()

    @property
    def warning(self) -> str:
        """One line for ``score_runs.warnings`` and the console."""
        risk = ("risk is adjusted for it (usage against all accounts on the same date)" if self.adjusted else
                "this model's risk is NOT adjusted for it: retrain to read usage against all accounts")
        drift = (f"; drift of {len(self.explains)} usage feature(s) is put down to it ({', '.join(self.explains)})"
                 if self.explains else "")
        return (f"usage fell for {self.share:.0%} of accounts in the last {self.window} days: a calendar effect? "
                f"{risk}{drift}")


def detect(frame: pd.DataFrame, features: list[Feature], drifted: dict[str, float], min_share: float
           ) -> DateShift | None:
    """The date-wide shift of today's accounts, or ``None`` when usage fell for fewer than ``min_share`` of them.

    Parameters
    ----------
    frame : pandas.DataFrame
        Today's feature table (one row per account).
    features : list of Feature
        The model's features (their definitions tell which column is read and which ones the shift explains).
    drifted : dict
        Feature name to PSI of the features above the drift threshold (``DriftReport.drifted``).
    min_share : float
        Share of accounts whose usage fell from which the shift is date-wide.
    """
    own = sorted((f for f in features if f.definition.name == OWN_CHANGE and f.name in frame),
                 key=lambda f: f.params["window"])
    if not own:
        return None
    values = pd.to_numeric(frame[own[0].name], errors="coerce").dropna()
    if values.empty:
        return None
    share = float((values < 0).mean())
    if share < min_share:
        return None
    usage = {f.name for f in features if f.family == "usage"}
    return DateShift(share=share, window=int(own[0].params["window"]), accounts=len(values),
                     adjusted=any(f.definition.name == SHARED_CHANGE_TAKEN_OUT for f in features),
                     explains=tuple(name for name in drifted if name in usage))
