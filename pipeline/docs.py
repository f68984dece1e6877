"""Generated README sections, so documentation is never written twice.

Sections live between ``<!-- BEGIN name -->`` and ``<!-- END name -->``
markers in README.md; ``churn docs`` rewrites them and ``tests/test_docs.py``
fails when README.md is stale.
"""

from __future__ import annotations

import re
from pathlib import Path

from features.sentences import render
from pipeline.engine.catalog import Vocabulary, catalog
from pipeline.config import Config
from pipeline.contract.tables import TABLES

EXAMPLE_VOCABULARY = Vocabulary(event_types={"EVENT_TYPE": "EVENT_TYPE"}, milestones={"MILESTONE": "MILESTONE"})


def features_section() -> str:
    """Markdown table of every feature definition (templates shown with their parameters)."""
    cfg = Config.model_validate(
        {
            "features": {
                "usage": {"windows": [7, 30]},
                "tickets": {"windows": [30]},
                "attributes": {"categorical": ["ATTRIBUTE"], "numeric": ["NUMERIC_ATTRIBUTE"]},
            }
        }
    )
    rows = ["| column | family | unit | risk direction | meaning | reason a CSM reads |", "|---|---|---|---|---|---|"]
    seen = set()
    for f in catalog(cfg, EXAMPLE_VOCABULARY, set(TABLES)):
        d = f.definition
        if d in seen:
            continue
        seen.add(d)
        params = {**f.params, "window": "W", "baseline": "B", "event": "EVENT_TYPE", "milestone": "MILESTONE"}
        name = d.name.replace("{window}", "{W}").format(**{**params, "W": "{W}"})
        meaning = d.doc.format(**params)
        sentence = render(d.risk, "X", params)
        optional = f" (needs `{', '.join(d.requires)}`)" if d.requires else ""
        direction = {"higher": "higher is riskier", "lower": "lower is riskier"}.get(d.direction, "context")
        rows.append(f"| `{name}` | {d.family}{optional} | {d.unit} | {direction} | {meaning} | {sentence} |")
    note = (
        "`W` runs over `features.usage.windows` (tickets: `features.tickets.windows`; against a baseline: the "
        "windows shorter than the longest one, `B`); "
        "`EVENT_TYPE` over the event types found in the data (or listed in config), "
        "`MILESTONE` over the milestone names, `ATTRIBUTE` over `features.attributes`."
    )
    return "\n".join(rows) + "\n\n" + note


def checks_section() -> str:
    """Markdown list of the validator's checks (``pipeline.contract.validate.CHECKS``)."""
    from pipeline.contract.validate import CHECKS

    lines = ["| check | severity | what it means |", "|---|---|---|"]
    for check in CHECKS:
        lines.append(f"| `{check.name}` | {check.severity} | {check.description} |")
    return "\n".join(lines)


def scores_section() -> str:
    """The score tables' columns with their declared types (``pipeline.io.warehouse``)."""
    from pipeline.io.score_tables import schema_markdown

    return schema_markdown()


def experiments_section() -> str:
    """The experiment tables' columns with their declared types (``pipeline.io.experiment_tables``)."""
    from pipeline.io.experiment_tables import EXPERIMENT_COLUMNS, RESULT_COLUMNS, RESULTS_TABLE, TABLE
    from pipeline.io.score_tables import schema_markdown
    from pipeline.io.subgroup_table import SUBGROUP_COLUMNS, SUBGROUP_TABLE

    return schema_markdown(((TABLE, EXPERIMENT_COLUMNS), (RESULTS_TABLE, RESULT_COLUMNS),
                            (SUBGROUP_TABLE, SUBGROUP_COLUMNS)))


SECTIONS = {"features": features_section, "checks": checks_section, "scores": scores_section,
            "experiments": experiments_section}


def render_readme(text: str) -> str:
    """``text`` with every generated section replaced by its current content."""
    for name, build in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n)(.*?)(<!-- END {name} -->)", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda m: m.group(1) + build() + "\n" + m.group(3), text)
    return text


def update_readme(path: str | Path = "README.md") -> bool:
    """Rewrite the generated sections of ``path``; return whether anything changed."""
    path = Path(path)
    old = path.read_text()
    new = render_readme(old)
    if new != old:
        path.write_text(new)
    return new != old


if __name__ == "__main__":  # python -m pipeline.docs  (make docs)
    print("README.md updated" if update_readme() else "README.md already up to date")
