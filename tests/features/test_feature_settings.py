"""The ``features:`` settings: typed, immutable, and bad values named."""

from __future__ import annotations

import pydantic
import pytest

from features.settings import Attributes, FeatureSettings, UsageFeatures


def test_defaults_are_the_documented_windows():
    s = FeatureSettings()
    assert s.usage.windows == [7, 30, 90] and s.usage.trend_days == 30 and s.tickets.max_age_days == 180


def test_settings_are_immutable():
    with pytest.raises(pydantic.ValidationError):
        FeatureSettings().usage.trend_days = 7  # type: ignore[misc]


@pytest.mark.parametrize("bad, words", [
    (lambda: UsageFeatures(windows=[7, 7]), "repeated: 7"),
    (lambda: UsageFeatures(wndows=[7]), "wndows"),
    (lambda: Attributes(categorical=["region"], numeric=["region"]), "not both: region"),
    (lambda: Attributes(categorical=["1abc"]), "not a plain SQL name"),
])
def test_bad_values_say_what_is_wrong(bad, words):
    with pytest.raises(pydantic.ValidationError, match=words):
        bad()
