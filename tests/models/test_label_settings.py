"""The label settings the modelling layer reads."""

from __future__ import annotations

import pydantic
import pytest

from models.folds import label_window_days
from models.settings import Labels


def test_the_label_window_is_horizon_plus_grace():
    assert label_window_days(Labels(horizon_days=60, grace_days=14)) == 74


@pytest.mark.parametrize("kwargs", [{"horizon_days": 0}, {"grace_days": -1}, {"horizon": 30}])
def test_bad_label_settings_are_refused(kwargs):
    with pytest.raises(pydantic.ValidationError):
        Labels(**kwargs)
