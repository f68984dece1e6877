"""Tests of ``models/errors.py`` (named apart from tests/pipeline/test_errors.py: basenames must be unique)."""

from __future__ import annotations

import pytest

from models.errors import ChurnError, ConfigError, ModelError


def test_churn_error_is_an_exception_with_exit_code_2():
    assert issubclass(ChurnError, Exception) and ChurnError.exit_code == 2


@pytest.mark.parametrize("cls", [ConfigError, ModelError])
def test_config_and_model_errors_are_churn_errors(cls):
    error = cls("model m does not fit")
    assert isinstance(error, ChurnError) and error.exit_code == 2
    assert str(error) == "model m does not fit"
    assert not issubclass(cls, ConfigError if cls is ModelError else ModelError)


def test_catching_churn_error_catches_both():
    for cls in (ConfigError, ModelError):
        with pytest.raises(ChurnError):
            raise cls("x")


def test_a_subclass_can_change_its_exit_code_without_touching_the_others():
    class Fatal(ModelError):
        exit_code = 3

    assert Fatal("x").exit_code == 3 and ModelError.exit_code == ChurnError.exit_code == 2
