"""Feature drift at scoring time: population stability (PSI) of every feature against training.

The model carries the training distribution of each feature
(``ChurnModel.reference``, see :func:`models.classifier.reference_entry`).
Before a nightly run writes anything, today's accounts are binned the same way
and compared; features above the configured threshold are named in a warning
that the scorer prints and records in ``score_runs``.

Rule of thumb for PSI: below 0.1 stable, 0.1-0.25 moderate shift, above 0.25 a
shift worth a look before trusting the scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from models.classifier import psi

#: Features named in a warning; the full list is in ``score_runs.drift``.
SHOWN = 5


@dataclass
class DriftReport:
    """PSI of every feature with a training reference.

    Attributes
    ----------
    psi : dict
        Feature name to PSI (features without a reference are absent).
    threshold : float
        PSI above which a feature counts as drifted.
    """

    psi: dict[str, float]
    threshold: float

    @property
    def drifted(self) -> dict[str, float]:
        """Features above the threshold, largest PSI first."""
        over = {k: v for k, v in self.psi.items() if v > self.threshold}
        return dict(sorted(over.items(), key=lambda kv: -kv[1]))

    @property
    def warning(self) -> str | None:
        """One line naming the drifted features, or ``None`` when nothing drifted."""
        drifted = self.drifted
        if not drifted:
            return None
        shown = ", ".join(f"{name} ({value:.2f})" for name, value in list(drifted.items())[:SHOWN])
        more = f" and {len(drifted) - SHOWN} more" if len(drifted) > SHOWN else ""
        return (
            f"feature drift: PSI above {self.threshold:g} for {len(drifted)} of {len(self.psi)} "
            f"features vs the training data: {shown}{more}; check the data before trusting these scores"
        )

    def to_dict(self) -> dict[str, float]:
        """PSI per feature rounded for storage, largest first."""
        return {k: round(v, 4) for k, v in sorted(self.psi.items(), key=lambda kv: -kv[1])}


def check(reference: dict[str, dict], frame: pd.DataFrame, threshold: float) -> DriftReport:
    """Compare today's feature values with the training reference.

    Parameters
    ----------
    reference : dict
        Feature name to a training distribution (``ChurnModel.reference``).
    frame : pandas.DataFrame
        Today's feature values as the model sees them (``model.prepare``).
    threshold : float
        PSI above which a feature is reported.

    Returns
    -------
    DriftReport
    """
    values = {name: psi(entry, frame[name]) for name, entry in (reference or {}).items() if name in frame}
    return DriftReport(values, threshold)
