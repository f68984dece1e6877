"""Pipeline configuration: YAML under ``configs/``, validated, overridable by flags.

Unknown keys and bad values are errors that name the file and the key. Command
line flags override the file through :func:`load_config`'s ``overrides``.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from pipeline.errors import ConfigError

#: Bumped when a change makes models trained under an older config unusable.
CONFIG_VERSION = 1
DEFAULT_CONFIG = Path("configs/pipeline.yaml")
SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _sql_name(value: str) -> str:
    if not SQL_NAME.match(value):
        raise ValueError(
            f"'{value}' is not a plain SQL name (letters, digits and _, not starting with a digit)"
        )
    return value


SqlName = Annotated[str, AfterValidator(_sql_name)]


class Section(BaseModel):
    """A config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Labels(Section):
    horizon_days: PositiveInt = 90
    grace_days: Annotated[int, Field(ge=0)] = 30


class Snapshots(Section):
    frequency: Literal["monthly", "weekly"] = "monthly"
    first: date | None = None
    last: date | None = None
    #: Skip snapshot dates closer than this to the first event (features would be truncated).
    warmup_days: Annotated[int, Field(ge=0)] = 90


def _distinct(values: list) -> list:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"each value may appear once; repeated: {', '.join(map(str, repeated))}")
    return values


Windows = Annotated[list[PositiveInt], Field(min_length=1), AfterValidator(_distinct)]


class UsageFeatures(Section):
    windows: Windows = [7, 30, 90]
    trend_days: PositiveInt = 30
    slope_weeks: Annotated[int, Field(ge=2)] = 4
    event_types: Literal["auto"] | list[str] = "auto"
    max_event_types: Annotated[int, Field(ge=0)] = 12


class TicketFeatures(Section):
    windows: Windows = [30, 90]
    urgent_priorities: list[str] = ["high", "urgent"]
    resolution_days: PositiveInt = 180
    #: An open ticket's age is capped here: past it, "open for N days" is no longer something to act on.
    max_age_days: PositiveInt = 180
    csat_days: PositiveInt = 90


class MilestoneFeatures(Section):
    milestones: Literal["auto"] | list[str] = "auto"
    #: Onboarding lateness speaks while the account is at most this many days old (then it is history).
    relevance_days: PositiveInt = 365
    #: Milestones that mark first value; empty, or none of them in the data, = the first milestone completed.
    value_milestones: list[str] = []


class Attributes(Section):
    categorical: Annotated[list[SqlName], AfterValidator(_distinct)] = []
    numeric: Annotated[list[SqlName], AfterValidator(_distinct)] = []

    @model_validator(mode="after")
    def _one_kind(self):
        both = sorted(set(self.categorical) & set(self.numeric))
        if both:
            raise ValueError(f"an attribute is either categorical or numeric, not both: {', '.join(both)}")
        return self


class Features(Section):
    usage: UsageFeatures = UsageFeatures()
    tickets: TicketFeatures = TicketFeatures()
    milestones: MilestoneFeatures = MilestoneFeatures()
    mrr_change_days: PositiveInt = 90
    attributes: Attributes = Attributes()


class Training(Section):
    seed: int = 42
    #: Out-of-time test blocks (the latest one gates promotion).
    folds: PositiveInt = 6
    #: Days of snapshot dates per test block; shrunk for short histories (see models.folds).
    test_days: PositiveInt = 31
    #: Snapshot dates a fold needs to train on (before its purge gap).
    min_train_dates: PositiveInt = 3
    #: Candidate numbers of trees; the mean out-of-time ROC-AUC over folds chooses.
    trees: Annotated[list[PositiveInt], Field(min_length=1), AfterValidator(_distinct)] = [50, 100, 200, 400]
    #: Trees when no earlier fold can choose (the first fold, an unvalidated model).
    default_trees: PositiveInt = 200
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = "auto"
    #: LightGBM monotone constraints from each feature definition's risk direction.
    monotone: bool = True
    top_k: PositiveInt = 50
    lightgbm: dict[str, Any] = {}
    promotion_min_auc_gain_vs_champion: float = 0.0
    promotion_min_auc_gain_vs_health: float = 0.0
    report_dir: str = "reports"
    #: The hand-tuned scorecard every evaluation reports against.
    health_score: str = "configs/health_score.yaml"


class Tracking(Section):
    uri: str = "sqlite:///mlflow.db"
    experiment: str = "churn"
    model_name: str = "churn-model"
    #: Where run artifacts and models are stored; default: ``mlruns/`` beside a SQLite store.
    artifact_location: str | None = None


class Tiers(Section):
    high: Annotated[float, Field(gt=0, lt=1)] = 0.30
    medium: Annotated[float, Field(gt=0, lt=1)] = 0.10

    @model_validator(mode="after")
    def _ordered(self):
        if self.medium >= self.high:
            raise ValueError(f"medium ({self.medium}) must be below high ({self.high})")
        return self


class Scoring(Section):
    table: SqlName = "churn_scores"
    runs_table: SqlName = "score_runs"
    tiers: Tiers = Tiers()
    top_reasons: PositiveInt = 3
    psi_threshold: Annotated[float, Field(gt=0)] = 0.25
    #: Reason groups that say when an account can churn (contract timing), not why: shown as context.
    context_groups: list[str] = ["renewal", "attr_billing_term"]
    #: Effect group -> the groups that cause it: when both are risk reasons, the cause is read first.
    causes: dict[str, list[str]] = {}
    #: Registry alias scored when ``--model`` is not given: ``models:/<tracking.model_name>@<alias>``.
    model_alias: str = "champion"
    #: How long a run waits for another run (or reader) holding the warehouse.
    lock_timeout_seconds: Annotated[float, Field(gt=0)] = 600.0


ExperimentName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


class Experiment(Section):
    """An outreach holdout experiment (README "Outreach experiments").

    An account scored in the population on or after ``start`` (and up to ``end``)
    enters once, on its first such run, and keeps its arm for good.
    """

    name: ExperimentName
    start: date
    end: date | None = None
    #: The population: these risk tiers, and/or accounts at or above this probability, optionally per segment.
    tiers: Annotated[list[Literal["high", "medium", "low"]], Field(min_length=1), AfterValidator(_distinct)] | None = None
    threshold: Annotated[float, Field(gt=0, lt=1)] | None = None
    segments: Annotated[list[str], Field(min_length=1)] | None = None
    holdout_share: Annotated[float, Field(gt=0, lt=1)] = 0.10
    #: Show holdout accounts in risk lists as "holdout – do not contact" instead of leaving them out.
    show_holdout: bool = False
    #: Level of the intervals and of the test in `churn impact` (1 - confidence).
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05

    @model_validator(mode="after")
    def _population_and_dates(self):
        if self.tiers is None and self.threshold is None:
            raise ValueError(f"experiment '{self.name}': give its population as tiers and/or a threshold")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"experiment '{self.name}': end ({self.end}) is before start ({self.start})")
        return self

    def active_on(self, day: date) -> bool:
        """Whether ``day`` falls in [start, end]."""
        return self.start <= day and (self.end is None or day <= self.end)

    def population(self) -> dict:
        """The population keywords of :func:`models.experiments.in_population`."""
        return {"tiers": self.tiers, "threshold": self.threshold, "segments": self.segments}


def _distinct_experiments(values: list[Experiment]) -> list[Experiment]:
    _distinct([e.name for e in values])
    return values


class Spark(Section):
    master: str = "local[2]"
    conf: dict[str, str] = {}


def _supported_version(value: int) -> int:
    if value != CONFIG_VERSION:
        raise ValueError(f"this pipeline reads config_version {CONFIG_VERSION} only: a model trained under "
                         f"version {value} could never be scored. Set config_version: {CONFIG_VERSION}")
    return value


class Config(Section):
    config_version: Annotated[int, AfterValidator(_supported_version)] = CONFIG_VERSION
    data: str = "data/warehouse.duckdb"
    #: A sources mapping (configs/sources.yaml): the warehouse's own tables and columns -> the contract.
    sources: str | None = None
    warehouse: str = "data/warehouse.duckdb"
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark: Spark = Spark()
    labels: Labels = Labels()
    snapshots: Snapshots = Snapshots()
    features: Features = Features()
    training: Training = Training()
    tracking: Tracking = Tracking()
    scoring: Scoring = Scoring()
    experiments: Annotated[list[Experiment], AfterValidator(_distinct_experiments)] = []


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read, merge and validate the configuration.

    Parameters
    ----------
    path : path, optional
        YAML file; defaults to ``configs/pipeline.yaml`` when it exists, else built-in defaults.
    overrides : dict, optional
        Dotted keys to values (``{"labels.horizon_days": 60}``); ``None`` values are ignored
        so unset CLI flags leave the file's value alone.

    Raises
    ------
    ConfigError
        Naming the file, the key and what is wrong with it.
    """
    source = Path(path) if path is not None else DEFAULT_CONFIG
    data: dict[str, Any] = {}
    where = "built-in defaults and overrides"
    if path is not None or source.exists():
        where = str(source)
        if not source.is_file():
            raise ConfigError(f"config file '{source}' does not exist")
        data = read_yaml_mapping(source, "a mapping of settings")
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{where}: " + _explain(exc)) from None


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for depth, key in enumerate(parents):
        if node.get(key) is None:  # absent, or an empty section in the file
            node[key] = {}
        elif not isinstance(node[key], dict):
            raise ConfigError(f"{'.'.join(parents[:depth + 1])}: expected a section of settings, "
                              f"got {node[key]!r}")
        node = node[key]
    node[leaf] = value


def read_yaml_mapping(source: Path, expected: str) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``source`` (empty file: ``{}``).

    Raises
    ------
    ConfigError
        Naming the file when it is not YAML, or not ``expected`` at the top level.
    """
    try:
        data = yaml.safe_load(source.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected {expected} at the top level")
    return data


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key '{key}'")
        else:
            lines.append(f"bad value for '{key}': {err['msg']} (got {err.get('input')!r})")
    return "; ".join(lines)
