"""Tests of ``pipeline/errors.py``: the error types the CLI reports and ``mask_secrets``."""

from __future__ import annotations

import pytest

import models.errors
import pipeline.errors
from models.errors import ChurnError
from pipeline.errors import DataContractError, SourceError, mask_secrets


@pytest.mark.parametrize("cls", [SourceError, DataContractError])
def test_pipeline_errors_are_churn_errors_with_exit_code_2(cls):
    assert issubclass(cls, ChurnError) and cls("x").exit_code == 2


def test_every_error_has_one_import_path_and_one_base():
    """The modelling errors live in models.errors only; the data errors in pipeline.errors derive from them."""
    for name in ("ChurnError", "ConfigError", "ModelError"):
        assert not hasattr(pipeline.errors, name)
    assert set(pipeline.errors.__all__) == {"DataContractError", "SourceError", "mask_secrets"}
    for name in ("DataContractError", "SourceError"):
        assert issubclass(getattr(pipeline.errors, name), models.errors.ChurnError)


@pytest.mark.parametrize("text, expected", [
    ("mysql://root:hunter2@db:3306/app", "mysql://root:***@db:3306/app"),
    ("see postgresql://a:one@h1/x and postgres://b:two@h2/y.",
     "see postgresql://a:***@h1/x and postgres://b:***@h2/y."),
    ("postgresql://u@h/db?sslmode=require&PASSWORD=hunter2", "postgresql://u@h/db?sslmode=require&PASSWORD=***"),
    ("postgresql://u@h/db?pwd=hunter2&application_name=churn", "postgresql://u@h/db?pwd=***&application_name=churn"),
    ("postgresql://u@h/db?passwd=hunter2: connection refused", "postgresql://u@h/db?passwd=***: connection refused"),
    ("cannot open postgresql://u@h/db?password=hunter2\nretrying", "cannot open postgresql://u@h/db?password=***\nretrying"),
])
def test_passwords_are_masked_wherever_they_sit_in_the_text(text, expected):
    assert mask_secrets(text) == expected
    assert "hunter2" not in mask_secrets(text)


@pytest.mark.parametrize("text", [
    "postgresql://bob@db:5432/prod",  # a user, no password
    "postgresql://db:5432/prod?sslmode=require",
    "data/warehouse.duckdb",
    "ERROR subscriptions.mrr [bad_type] 1 row: 'abc' at 12:30",
])
def test_text_without_a_password_is_unchanged(text):
    assert mask_secrets(text) == text


def test_an_exception_is_masked_through_its_message():
    exc = SourceError("cannot connect to postgresql://bob:hunter2@db/prod")
    assert mask_secrets(exc) == "cannot connect to postgresql://bob:***@db/prod"
