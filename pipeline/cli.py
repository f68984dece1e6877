"""The ``churn`` command line.

Every command reads ``configs/pipeline.yaml`` (or ``--config``); flags override it.
Heavy libraries are imported inside the commands so ``churn --help`` starts fast.
Problems the user can fix end with a one-paragraph message and exit code 2.
"""

from __future__ import annotations

import functools
import logging
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from models.errors import ChurnError, ConfigError

if TYPE_CHECKING:
    from pipeline.config import Config

app = typer.Typer(
    help="Churn prediction for B2B SaaS: validate raw tables, build point-in-time features, "
    "train, score nightly and list accounts at risk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOpt = typer.Option(None, "--config", "-c", help="Pipeline YAML config (default configs/pipeline.yaml).")
DataOpt = typer.Option(None, "--data", "-d", help="Data source: folder of CSV/Parquet, DuckDB file or PostgreSQL URL.")
EngineOpt = typer.Option(None, "--engine", help="Where features are computed: duckdb (default; PostgreSQL sources run on PostgreSQL) or spark.")
SourcesOpt = typer.Option(None, "--sources", help="Sources mapping YAML: the warehouse's own tables and columns -> "
                          "the contract (default: sources: in the config; draft one with `churn init`).")
TrackingOpt = typer.Option(None, "--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
                           "else tracking.uri).")
ValidateOpt = typer.Option(True, "--validate/--no-validate", help="Check the data contract first (default) and stop on errors.")


def _say(message: str) -> None:
    typer.echo(message, err=True)


def handles_errors(command):
    """Turn :class:`ChurnError` into a clear message and its exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from pipeline.errors import mask_secrets

        try:
            return command(*args, **kwargs)
        except ChurnError as exc:
            _say(f"error: {mask_secrets(exc)}")
            raise typer.Exit(exc.exit_code) from None

    return wrapper


@app.callback()
def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    for noisy in ("alembic", "mlflow", "py4j", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, _Once)]:
            handler.removeFilter(old)
        handler.addFilter(_Once())


class _Once(logging.Filter):
    """A logging filter: each warning once per command (``score --history N`` builds N + 1 snapshots)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.levelno, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def _config(config: Optional[Path], **overrides):
    from pipeline.config import load_config

    return load_config(config, overrides)


def _data_config(config: Optional[Path], **overrides):
    """The config of a command that reads data: a sources mapping, if any, is checked before any work.

    A folder read on DuckDB starts opening here, on a thread of its own (:func:`pipeline.io.folders.start_opening`),
    so the command calls this before importing its step, and DuckDB reads the folder while Python imports.
    """
    from pipeline.io.folders import start_opening
    from pipeline.io.mapping_file import load_mapping
    from pipeline.io.urls import duckdb_path

    cfg = _config(config, **overrides)
    if cfg.sources:
        load_mapping(cfg.sources)
    if cfg.engine == "duckdb" and cfg.data is not None:
        start_opening(duckdb_path(str(cfg.data)), cfg.csv_in_memory_mb)
    return cfg


@app.command()
@handles_errors
def generate(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the world into."),
    preset: str = typer.Option("demo", "--preset", help="A named world: demo, monthly, annual, short, growth, "
                               "seasonal, anytime, minimal, vocab, outreach, outreach-varied, addons (pipeline/synthetic/presets.py says what each is)."),
    accounts: Optional[int] = typer.Option(None, "--accounts", help="Number of accounts [default: the preset's, 2000]."),
    days: Optional[int] = typer.Option(None, "--days", help="Length of the simulated period in days "
                                       "[default: the preset's, 730]."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same files."),
    start: Optional[str] = typer.Option(None, "--start", help="First simulated day (YYYY-MM-DD) "
                                        "[default: the preset's, 2024-01-01]."),
    events: Optional[int] = typer.Option(None, "--events", help="Approximate total usage events (scales activity)."),
):
    """Generate a synthetic B2B SaaS world (all contract tables + a separate truth file)."""
    from pipeline.synthetic import generate_world
    from pipeline.synthetic.presets import preset_names

    if preset not in preset_names():
        raise ConfigError(f"--preset {preset!r} is not a world of the generator; known: {', '.join(preset_names())}")
    summary = generate_world(
        out, accounts=accounts, days=days, seed=seed, start_date=start, events=events, progress=_say, preset=preset
    )
    typer.echo(" ".join(f"{k}={v}" for k, v in summary.items()))


@app.command()
@handles_errors
def load(
    data: str = typer.Option(..., "--data", "-d", help="Source to copy from (folder, DuckDB file or PostgreSQL URL)."),
    to: str = typer.Option(..., "--to", help="Target DuckDB file or PostgreSQL URL."),
    sources: Optional[Path] = typer.Option(None, "--sources", help="Sources mapping YAML: copy the mapped tables, "
                                           "in contract form."),
):
    """Copy the contract tables of a source into a DuckDB file or PostgreSQL (replacing them)."""
    from pipeline.io.load import load_tables
    from pipeline.io.apply_mapping import map_source
    from pipeline.io.mapping_file import load_mapping
    from pipeline.io.sources import open_source
    from pipeline.io.urls import mask_url

    mapping = load_mapping(sources) if sources else None
    with open_source(data) as source:
        if mapping is not None:
            map_source(source, mapping, str(sources))
        counts = load_tables(source, to)
    for table, rows in counts.items():
        typer.echo(f"{table}: {rows} rows -> {mask_url(to)}")


@app.command()
@handles_errors
def init(
    data: str = typer.Option(..., "--data", "-d", help="Warehouse to inspect: DuckDB file, PostgreSQL URL or folder of CSV/Parquet."),
    out: Path = typer.Option(Path("configs/sources.yaml"), "--out", "-o", help="Where the draft mapping goes."),
    force: bool = typer.Option(False, "--force", help="Replace --out if it exists."),
):
    """Draft a sources mapping (configs/sources.yaml) from a warehouse's own tables, every guess marked."""
    from pipeline.steps.init import next_steps, write_draft

    result = write_draft(data, out, force=force)
    typer.echo(next_steps(data, out, result))


@app.command()
@handles_errors
def validate(
    data: Optional[str] = DataOpt,
    sources: Optional[Path] = SourcesOpt,
    engine: Optional[str] = EngineOpt,
    config: Optional[Path] = ConfigOpt,
):
    """Check every contract table; exit 2 on errors, 0 with warnings only."""
    cfg = _data_config(config, data=data, engine=engine, sources=_text(sources))
    from pipeline.contract.validate import validate as run_checks
    from pipeline.engine.engines import get_engine

    with get_engine(cfg.engine).source(cfg) as source:
        report = run_checks(source)
    typer.echo(report.render())
    if not report.ok:
        raise typer.Exit(2)


def _say_tracking(cfg: Config) -> None:
    """Say where MLflow logs and reads models: ``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else the config."""
    from pipeline.publish.registry_file import where

    _say(where(cfg.tracking))


def _text(path: Optional[Path]) -> Optional[str]:
    return None if path is None else str(path)


def _parse_date(value: Optional[str], flag: str) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ChurnError(f"{flag}: '{value}' is not a date (YYYY-MM-DD)") from None


@app.command()
@handles_errors
def features(
    data: Optional[str] = DataOpt,
    as_of: Optional[str] = typer.Option(None, "--as-of", help="As-of date YYYY-MM-DD (default: the day after the last event)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write .parquet or .csv here (default: CSV to stdout)."),
    panel: bool = typer.Option(False, "--panel", help="All snapshot dates (monthly by default) with labels, not one date."),
    validate_first: bool = ValidateOpt,
    sources: Optional[Path] = SourcesOpt,
    engine: Optional[str] = EngineOpt,
    config: Optional[Path] = ConfigOpt,
):
    """Write the point-in-time feature table for one as-of date (or the whole snapshot panel)."""
    cfg = _data_config(config, data=data, engine=engine, sources=_text(sources))
    from pipeline.engine.snapshot import open_snapshot

    with open_snapshot(cfg, as_of=_parse_date(as_of, "--as-of"), panel=panel, validate=validate_first) as snap:
        table, dates = snap.build(with_labels=panel), snap.dates
    frame = table.frame
    if out is None:
        frame.to_csv(sys.stdout, index=False)
    elif out.suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    _say(
        f"features: {len(frame)} rows x {len(table.features)} features for {len(dates)} "
        f"as-of date(s) in {table.seconds:.2f} s" + (f" -> {out}" if out else "")
    )


@app.command()
@handles_errors
def train(
    data: Optional[str] = DataOpt,
    train_until: Optional[str] = typer.Option(None, "--train-until", help="Use only what was known on this date YYYY-MM-DD: snapshots whose label window closed before it (default: the data end)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: training.seed)."),
    report_dir: Optional[Path] = typer.Option(None, "--report-dir", help="Where the HTML report goes (default: training.report_dir)."),
    tracking_uri: Optional[str] = TrackingOpt,
    promote: bool = typer.Option(False, "--promote", help="Promote a model that no out-of-time test could validate (too short a history)."),
    sources: Optional[Path] = SourcesOpt,
    engine: Optional[str] = EngineOpt,
    config: Optional[Path] = ConfigOpt,
):
    """Backtest out of time against the health score, train, report, log to MLflow and promote if better."""
    cfg = _data_config(
        config, data=data, engine=engine, sources=_text(sources), **{"training.seed": seed, "training.report_dir": str(report_dir) if report_dir else None,
                              "tracking.uri": tracking_uri},
    )
    from pipeline.steps import train as training

    _say_tracking(cfg)
    result = training.run(cfg, train_until=_parse_date(train_until, "--train-until"), progress=_say, promote=promote)
    typer.echo(training.summary(result))


@app.command()
@handles_errors
def score(
    data: Optional[str] = DataOpt,
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Score the accounts active on this date YYYY-MM-DD (default: the data end)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="MLflow model URI (default: models:/<tracking.model_name>@<scoring.model_alias>)."),
    warehouse: Optional[str] = typer.Option(None, "--warehouse", "-w", help="DuckDB file or PostgreSQL URL receiving churn_scores (default: warehouse)."),
    tracking_uri: Optional[str] = TrackingOpt,
    history: int = typer.Option(0, "--history", min=0, help="First score the N snapshot dates (month starts, or weeks) before the as-of date, oldest first: a first deployment's history."),
    sources: Optional[Path] = SourcesOpt,
    engine: Optional[str] = EngineOpt,
    config: Optional[Path] = ConfigOpt,
):
    """Score every active account with reasons and write churn_scores and score_runs in one transaction."""
    cfg = _data_config(config, data=data, warehouse=warehouse, engine=engine, sources=_text(sources), **{"tracking.uri": tracking_uri})
    from pipeline.steps import score as scoring

    _say_tracking(cfg)
    results = scoring.run_with_history(cfg, as_of=_parse_date(as_of, "--as-of"), history=history, model_uri=model,
                                       progress=_say)
    for result in results:
        typer.echo(scoring.summary(result))


@app.command("risk-list")
@handles_errors
def risk_list(
    warehouse: Optional[str] = typer.Option(None, "--warehouse", "-w", help="DuckDB file or PostgreSQL URL holding churn_scores (default: warehouse)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="As-of date YYYY-MM-DD (default: the latest scored)."),
    csm: Optional[str] = typer.Option(None, "--csm", help="Only this CSM's accounts (case-insensitive)."),
    segment: Optional[str] = typer.Option(None, "--segment", help="Only this segment (case-insensitive)."),
    top: Optional[int] = typer.Option(None, "--top", "-n", min=1, help="Only the N accounts most at risk."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or html."),
    rank_by: Optional[str] = typer.Option(None, "--rank-by", help="saved (MRR a call is expected to keep), probability, revenue (at risk) or urgency (churn within 30 days, from the time-to-churn curve) [default: saved when a validated uplift model scored the accounts, else probability]."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write here instead of stdout; html without --csm into a folder: one page per CSM. HTML also writes one page per listed account in accounts/ beside it."),
    config: Optional[Path] = ConfigOpt,
):
    """Ranked accounts at risk with their reasons, read from churn_scores (not the model)."""
    from pipeline.steps import risk_list as lists
    from pipeline.io.warehouse import Warehouse

    cfg = _config(config, warehouse=warehouse)
    text, written = lists.publish(
        Warehouse.from_config(cfg), fmt, out, as_of=_parse_date(as_of, "--as-of"), csm=csm, segment=segment, top=top,
        experiments=cfg.experiments, rank_by=rank_by, period_days=cfg.labels.curve_period_days, scoring=cfg.scoring,
    )
    if text:
        typer.echo(text, nl=False)
    pages = [p for p in written if p.parent.name == lists.ACCOUNTS_DIR]
    for path in written:
        if path not in pages:
            _say(f"wrote {path}")
    if pages:
        _say(f"wrote {len(pages):,} account pages in {pages[0].parent}")


@app.command()
@handles_errors
def impact(
    experiment: str = typer.Option(..., "--experiment", "-e", help="A name from experiments: in the config."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Outcomes known on this date YYYY-MM-DD (default: the data end)."),
    data: Optional[str] = DataOpt,
    warehouse: Optional[str] = typer.Option(None, "--warehouse", "-w", help="DuckDB file or PostgreSQL URL holding churn_experiments (default: warehouse)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML page (default: <training.report_dir>/impact-NAME-DATE.html); its plot is written beside it as .png."),
    sources: Optional[Path] = SourcesOpt,
    engine: Optional[str] = EngineOpt,
    config: Optional[Path] = ConfigOpt,
):
    """Compare churn between an experiment's outreach and holdout arms; write churn_experiment_results and a page."""
    cfg = _data_config(config, data=data, warehouse=warehouse, engine=engine, sources=_text(sources))
    from pipeline.steps import impact as impacts
    from pipeline.render.impact_page import to_text

    result = impacts.run(cfg, experiment, as_of=_parse_date(as_of, "--as-of"), out=out)
    typer.echo(to_text(result), nl=False)
    for path in result.files:
        _say(f"wrote {path}")


@app.command("train-uplift")
@handles_errors
def train_uplift(
    experiment: str = typer.Option(..., "--experiment", "-e", help="A name from experiments: in the config."),
    data: Optional[str] = DataOpt,
    train_until: Optional[str] = typer.Option(None, "--train-until", help="Use only outcomes whose window closed before this date YYYY-MM-DD (default: the data end)."),
    warehouse: Optional[str] = typer.Option(None, "--warehouse", "-w", help="DuckDB file or PostgreSQL URL holding churn_experiments (default: warehouse)."),
    tracking_uri: Optional[str] = TrackingOpt,
    sources: Optional[Path] = SourcesOpt,
    engine: Optional[str] = EngineOpt,
    config: Optional[Path] = ConfigOpt,
):
    """Learn from an experiment's arms whom a call keeps (uplift), out of time; log and register it in MLflow."""
    cfg = _data_config(config, data=data, warehouse=warehouse, engine=engine, sources=_text(sources),
                       **{"tracking.uri": tracking_uri})
    from pipeline.steps import uplift

    _say_tracking(cfg)
    result = uplift.train_experiment(cfg, experiment, until=_parse_date(train_until, "--train-until"), progress=_say)
    typer.echo(uplift.summary(result), nl=False)


def main() -> None:
    """The ``churn`` console entry point: the process's settings (:mod:`pipeline.process`), the command, and a
    fast exit with its code (:func:`pipeline.process.exit_fast`)."""
    from pipeline.process import exit_fast, tune_process

    tune_process()
    try:
        app(prog_name="churn")
    except SystemExit as done:
        exit_fast(done.code)
    exit_fast(0)


if __name__ == "__main__":  # pragma: no cover
    main()
