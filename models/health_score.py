"""The hand-tuned customer health score: the baseline every model is measured against.

A scorecard in the style of customer-success platforms: each input feature is
graded *healthy*, *concerning* or *poor* by two thresholds, grades are averaged
within a category (usage, support, onboarding, NPS) and categories are weighted.
Weights and thresholds live in ``configs/health_score.yaml``; nothing is fitted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.errors import ConfigError

DEFAULT_PATH = Path("configs/health_score.yaml")
#: Relative paths not found in the working directory are looked up here (the source checkout).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
Weight = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Grades(_Strict):
    healthy: float = 100.0
    concerning: float = 50.0
    poor: float = 0.0


class Input(_Strict):
    """Thresholds of one input feature."""

    better: Literal["higher", "lower"]
    healthy: float
    poor: float
    weight: Weight = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> "Input":
        wrong = self.healthy <= self.poor if self.better == "higher" else self.healthy >= self.poor
        if wrong:
            raise ValueError(f"with better={self.better}, healthy ({self.healthy}) must be on the "
                             f"better side of poor ({self.poor})")
        return self


class Category(_Strict):
    weight: Weight
    inputs: dict[str, Input]


class Scorecard(_Strict):
    grades: Grades = Grades()
    missing: Annotated[float, Field(ge=0, le=100)] = 50.0
    categories: dict[str, Category]


class HealthScore:
    """A weighted scorecard of graded inputs, 0-100 (higher = healthier).

    Parameters
    ----------
    scorecard : Scorecard
        Validated weights and thresholds (see :meth:`from_config`).

    Examples
    --------
    >>> hs = HealthScore.from_config()                             # doctest: +SKIP
    >>> hs.score(pd.DataFrame({"nps_last": [10, 7, 2, None]})).tolist()  # doctest: +SKIP
    [100.0, 50.0, 0.0, 50.0]
    """

    def __init__(self, scorecard: Scorecard):
        self.scorecard = scorecard

    @classmethod
    def from_config(cls, path: str | Path = DEFAULT_PATH) -> "HealthScore":
        """Read the scorecard from YAML.

        Raises
        ------
        ConfigError
            When the file is missing or a key or value is wrong (names the file and key).
        """
        path = Path(path)
        if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).is_file():
            path = PROJECT_ROOT / path
        if not path.is_file():
            raise ConfigError(f"health score config '{path}' does not exist")
        try:
            return cls(Scorecard.model_validate(yaml.safe_load(path.read_text()) or {}))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        except ValidationError as exc:
            keys = "; ".join(
                f"'{'.'.join(str(p) for p in e['loc'])}': {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{path}: bad health score config: {keys}") from None

    def to_dict(self) -> dict:
        """The scorecard as plain data (logged with each model: the baseline it was compared against)."""
        return self.scorecard.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict) -> "HealthScore":
        """The scorecard of :meth:`to_dict`."""
        return cls(Scorecard.model_validate(data))

    @property
    def inputs(self) -> list[str]:
        """Every input feature the scorecard can use."""
        return [name for cat in self.scorecard.categories.values() for name in cat.inputs]

    def weights(self, columns) -> dict[str, float]:
        """Effective weight of each input present in ``columns`` (sums to 1).

        Inputs whose column is absent drop out; their category's weight goes to
        the other inputs of the category, or, if none is left, to the other
        categories.

        Raises
        ------
        ConfigError
            When none of the inputs is present.
        """
        present = set(columns)
        raw: dict[str, float] = {}
        for cat in self.scorecard.categories.values():
            inputs = {n: i.weight for n, i in cat.inputs.items() if n in present}
            total = sum(inputs.values())
            raw.update({n: cat.weight * w / total for n, w in inputs.items()})
        if not raw:
            raise ConfigError(
                f"the health score needs at least one of its inputs {self.inputs}; none is a column"
            )
        norm = sum(raw.values())
        return {n: w / norm for n, w in raw.items()}

    def grade(self, name: str, values: pd.Series) -> pd.Series:
        """Grade of one input: healthy / concerning / poor points, ``missing`` for null."""
        spec = self._input(name)
        grades = self.scorecard.grades
        v = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
        sign = 1.0 if spec.better == "higher" else -1.0
        # Flipping the sign turns "lower is better" into "higher is better".
        healthy, poor = sign * v >= sign * spec.healthy, sign * v <= sign * spec.poor
        out = np.where(healthy, grades.healthy, np.where(poor, grades.poor, grades.concerning))
        out = np.where(np.isnan(v), self.scorecard.missing, out)
        return pd.Series(out, index=values.index, name=name)

    def score(self, features: pd.DataFrame) -> pd.Series:
        """Health score 0-100 of each row (higher = healthier)."""
        weights = self.weights(features.columns)
        total = sum(w * self.grade(name, features[name]) for name, w in weights.items())
        return pd.Series(np.clip(total, 0.0, 100.0), index=features.index, name="health_score")

    def risk(self, features: pd.DataFrame) -> pd.Series:
        """``100 - score``: higher = riskier, for ranking metrics next to churn probabilities."""
        return (100.0 - self.score(features)).rename("health_risk")

    def _input(self, name: str) -> Input:
        for cat in self.scorecard.categories.values():
            if name in cat.inputs:
                return cat.inputs[name]
        raise KeyError(f"'{name}' is not a health score input")
