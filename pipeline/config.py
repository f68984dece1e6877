"""Pipeline configuration: YAML under ``configs/``, validated, overridable by flags.

Unknown keys and bad values are errors that name the file and the key. Command
line flags override the file through :func:`load_config`'s ``overrides``.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, PositiveInt, PrivateAttr, ValidationError, model_validator

from features.settings import FeatureSettings, Section, SqlName, distinct
from models.errors import ConfigError
from models.settings import Labels

#: Bumped when a change makes models trained under an older config unusable.
CONFIG_VERSION = 1
DEFAULT_CONFIG = Path("configs/pipeline.yaml")
#: MLflow's own variable: overrides ``tracking.uri`` of the file, ``--tracking-uri`` overrides it.
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


class Snapshots(Section):
    frequency: Literal["monthly", "weekly"] = "monthly"
    first: date | None = None
    last: date | None = None
    #: Skip snapshot dates closer than this to the first event (features would be truncated).
    warmup_days: Annotated[int, Field(ge=0)] = 90


class Training(Section):
    seed: int = 42
    #: Out-of-time test blocks (the latest one gates promotion).
    folds: PositiveInt = 6
    #: Days of snapshot dates per test block; shrunk for short histories (see models.folds).
    test_days: PositiveInt = 31
    #: Snapshot dates a fold needs to train on (before its purge gap).
    min_train_dates: PositiveInt = 3
    #: Candidate numbers of trees; the mean out-of-time ROC-AUC over folds chooses.
    trees: Annotated[list[PositiveInt], Field(min_length=1), AfterValidator(distinct)] = [50, 100, 200, 400]
    #: Trees when no earlier fold can choose (the first fold, an unvalidated model).
    default_trees: PositiveInt = 200
    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = "auto"
    #: LightGBM monotone constraints from each feature definition's risk direction.
    monotone: bool = True
    #: Categoricals with more training levels than this are kept only if they raise the out-of-time ROC-AUC.
    screen_categorical_levels: PositiveInt = 8
    #: With no out-of-time fold, such a categorical is kept only if an account-level permutation test of its
    #: levels against churn gives a p-value below this.
    screen_categorical_alpha: Annotated[float, Field(gt=0, lt=1)] = 0.01
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
    #: Registered model of `churn train-uplift` (its own versions; alias `champion` only when validated).
    uplift_model_name: str = "churn-uplift"
    #: Where run artifacts and models are stored; default: ``mlruns/`` beside a SQLite store.
    artifact_location: str | None = None
    _origin: str = PrivateAttr("the default tracking.uri")

    @property
    def origin(self) -> str:
        """Where :attr:`uri` was set: ``--tracking-uri``, ``MLFLOW_TRACKING_URI`` or ``tracking.uri`` of a file."""
        return self._origin


#: Each tier rule's default cut-offs: ``relative`` multiples of the training base rate, ``probability``
#: thresholds, ``top`` shares of the scored accounts (cumulative: the medium tier holds the next ones).
TIER_DEFAULTS = {"relative": (3.0, 1.5), "probability": (0.30, 0.10), "top": (0.05, 0.20)}


class Tiers(Section):
    """``scoring.tiers``: which rule puts an account in the high and medium tiers.

    ``relative`` (the default): probability at least ``high`` (``medium``) times the base rate the model
    was trained on, so the tiers mean the same at 2 % and at 20 % churn. ``probability``: fixed
    thresholds (a config giving only ``high``/``medium`` keeps this rule, as before). ``top``: the
    ``high`` share of the accounts scored, then down to the ``medium`` share (the team's capacity).
    """

    rule: Literal["relative", "probability", "top"] = "relative"
    high: Annotated[float, Field(gt=0)] = TIER_DEFAULTS["relative"][0]
    medium: Annotated[float, Field(gt=0)] = TIER_DEFAULTS["relative"][1]

    @model_validator(mode="before")
    @classmethod
    def _rule_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = dict(data)
        if "rule" not in given and ("high" in given or "medium" in given):
            given["rule"] = "probability"  # a config written before the rules existed
        high, medium = TIER_DEFAULTS.get(given.get("rule", "relative"), TIER_DEFAULTS["relative"])
        given.setdefault("high", high)
        given.setdefault("medium", medium)
        return given

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        if self.rule == "relative":
            if self.medium >= self.high:
                raise ValueError(f"medium ({self.medium}) must be below high ({self.high})")
            return self
        if self.high >= 1 or self.medium >= 1:
            raise ValueError(f"rule '{self.rule}': high and medium are {'shares' if self.rule == 'top' else 'probabilities'}"
                             f" below 1, not {self.high} and {self.medium}")
        if self.rule == "probability" and self.medium >= self.high:
            raise ValueError(f"medium ({self.medium}) must be below high ({self.high})")
        if self.rule == "top" and self.medium <= self.high:
            raise ValueError(f"rule 'top': the medium share ({self.medium}) must be above the high share "
                             f"({self.high}): it counts from the top of the list")
        return self


class CallWords(Section):
    """``scoring.call_words``: when a list says a call keeps an account, from the share of its churn it removes.

    The share is ``uplift / churn_probability`` of a validated uplift model (README "Whom to call").
    """

    #: From this share on: "accounts like it usually stay when called" (half of them or more).
    usually: Annotated[float, Field(gt=0, le=1)] = 0.5
    #: Below this share: "likely to leave whatever we do".
    hardly: Annotated[float, Field(ge=0, lt=1)] = 0.1

    @model_validator(mode="after")
    def _ordered(self) -> CallWords:
        if self.hardly >= self.usually:
            raise ValueError(f"hardly ({self.hardly}) must be below usually ({self.usually})")
        return self


class Scoring(Section):
    table: SqlName = "churn_scores"
    runs_table: SqlName = "score_runs"
    tiers: Tiers = Tiers()
    top_reasons: PositiveInt = 3
    #: Smallest move of an account's probability (in points) that pages explain; smaller moves get no reason.
    change_min_points: Annotated[float, Field(ge=0, le=100)] = 5.0
    psi_threshold: Annotated[float, Field(gt=0)] = 0.25
    #: Days of snapshots before the training date in the drift check's second reference (models/drift.py).
    drift_recent_days: PositiveInt = 91
    #: Usage below its own baseline for at least this share of the accounts is a date-wide shift (a holiday),
    #: told apart from feature drift (models/date_shift.py).
    date_shift_share: Annotated[float, Field(gt=0.5, le=1)] = 0.7
    #: Reason groups that say when an account can churn (contract timing), not why: shown as context.
    context_groups: list[str] = ["renewal", "attr_billing_term"]
    #: Effect group -> the groups that cause it: when both are risk reasons, the cause is read first.
    causes: dict[str, list[str]] = {}
    #: Registry alias scored when ``--model`` is not given: ``models:/<tracking.model_name>@<alias>``.
    model_alias: str = "champion"
    #: Local copy of the served model's artifacts, keyed by registry version and run id (null: download every run).
    model_cache_dir: str | None = "~/.cache/churn/models"
    #: How long a run waits for another run (or reader) holding the warehouse.
    lock_timeout_seconds: Annotated[float, Field(gt=0)] = 600.0
    #: Calls the whole team makes a week: risk lists mark their first ``weekly_calls`` accounts (null: no mark).
    weekly_calls: PositiveInt | None = None
    #: Calls each CSM makes a week: lists mark each CSM's first ``calls_per_csm`` accounts (null: no per-CSM mark).
    calls_per_csm: PositiveInt | None = None
    call_words: CallWords = CallWords()


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
    tiers: Annotated[list[Literal["high", "medium", "low"]], Field(min_length=1), AfterValidator(distinct)] | None = None
    threshold: Annotated[float, Field(gt=0, lt=1)] | None = None
    segments: Annotated[list[str], Field(min_length=1)] | None = None
    holdout_share: Annotated[float, Field(gt=0, lt=1)] = 0.10
    #: Show holdout accounts in risk lists as "holdout – do not contact" instead of leaving them out.
    show_holdout: bool = False
    #: Level of the intervals and of the test in `churn impact` (1 - confidence).
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    #: Re-drawn arms of the permutation interval of MRR kept per 100 contacted (`churn impact`).
    mrr_resamples: Annotated[int, Field(ge=999)] = 9999
    #: Subgroups whose effect `churn impact` compares with the rest of the experiment (``reason``: first risk reason).
    subgroups: Annotated[list[Literal["segment", "tier", "reason"]], AfterValidator(distinct)] = [
        "segment", "tier", "reason"]
    #: Correction of the subgroup tests for multiple comparisons: Holm (family-wise error) or Benjamini-Hochberg.
    subgroup_correction: Literal["holm", "bh"] = "holm"
    #: Accounts a subgroup, and the rest, need in each arm (closed outcome windows) to be tested.
    subgroup_min_accounts: PositiveInt = 20

    @model_validator(mode="after")
    def _population_and_dates(self) -> Experiment:
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
    distinct([e.name for e in values])
    return values


class Spark(Section):
    master: str = "local[2]"
    conf: dict[str, str] = {}


def _memory_size(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value.strip(), re.I):
        raise ValueError(f"'{value}' is not a size such as 3GB or 2.5GiB (units KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    return value


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
    #: A folder's CSV files up to this size (MB) are read once into memory when it is opened (0: never).
    csv_in_memory_mb: Annotated[float, Field(ge=0)] = 512
    #: Whether a PostgreSQL source's feature queries may use the server's JIT (LLVM compiled them for longer than
    #: they ran: see :func:`pipeline.io.sources.open_source`); ``False`` turns it off for the session.
    postgres_jit: bool = False
    #: The most memory DuckDB may use while it builds features from the data (``SET memory_limit``: beyond it, its
    #: joins and aggregates spill to its temp directory, ``.tmp`` under the working directory); ``None``: DuckDB's
    #: own default, 80 % of the machine's memory.
    duckdb_memory_limit: Annotated[str | None, AfterValidator(_memory_size)] = None
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark: Spark = Spark()
    labels: Labels = Labels()
    snapshots: Snapshots = Snapshots()
    features: FeatureSettings = FeatureSettings()
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

    Notes
    -----
    The MLflow tracking URI is the ``tracking.uri`` override (``--tracking-uri``) if given, else the
    environment variable ``MLFLOW_TRACKING_URI`` if set, else ``tracking.uri`` of the file;
    :attr:`Tracking.origin` says which.

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
    origin = f"tracking.uri in {where}" if isinstance(data.get("tracking"), dict) and "uri" in data["tracking"] \
        else "the default tracking.uri"
    if os.environ.get(TRACKING_URI_ENV):
        _set_dotted(data, "tracking.uri", os.environ[TRACKING_URI_ENV])
        origin = TRACKING_URI_ENV
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(data, dotted, value)
            origin = "--tracking-uri" if dotted == "tracking.uri" else origin
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{where}: " + _explain(exc)) from None
    cfg.tracking._origin = origin
    return cfg


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
