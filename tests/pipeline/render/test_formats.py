"""Probabilities on pages never round onto 0 % or 100 %."""

import pytest

from pipeline.render.formats import percent


@pytest.mark.parametrize("p, text", [(0.4512, "45.1%"), (0.0004, "<0.1%"), (0.00051, "0.1%"), (0.99949, "99.9%"),
                                     (0.99951, ">99.9%"), (0.0, "0.0%"), (1.0, "100.0%")])
def test_percent_reads_the_extremes_honestly(p, text):
    assert percent(p) == text


def test_more_digits_move_the_bounds():
    assert percent(0.00004, 2) == "<0.01%" and percent(0.99996, 2) == ">99.99%"
