"""The README's generated sections match the code they are generated from."""

from pathlib import Path

from pipeline.docs import render_readme

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_generated_sections_are_up_to_date():
    text = README.read_text()
    assert render_readme(text) == text, "README.md is stale: run `make docs`"


def test_readme_lists_every_feature_definition_and_check():
    from features.base import REGISTRY
    from pipeline.contract.validate import CHECKS

    text = README.read_text()
    for definition in REGISTRY:
        assert definition.doc.split("{")[0][:30] in text, definition.name
    for check in CHECKS:
        assert f"`{check.name}`" in text, check.name
