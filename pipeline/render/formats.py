"""How numbers read on every page: probabilities as percentages that never round onto 0 % or 100 %."""

from __future__ import annotations


def percent(p: float, digits: int = 1) -> str:
    """``p`` as a percentage with ``digits`` decimals; ``<0.1%`` / ``>99.9%`` where rounding would read 0 or 100.

    A calibrated probability is never 0 or 1 (:class:`models.calibration.CenteredIsotonic`), and a page
    should not say it is.

    Examples
    --------
    >>> percent(0.4512), percent(0.0004), percent(0.99996), percent(0.0), percent(1.0)
    ('45.1%', '<0.1%', '>99.9%', '0.0%', '100.0%')
    """
    value = 100 * p
    step = 10.0 ** -digits
    if 0 < value < step / 2:
        return f"<{step:.{digits}f}%"
    if 100 - step / 2 <= value < 100:
        return f">{100 - step:.{digits}f}%"
    return f"{value:.{digits}f}%"
