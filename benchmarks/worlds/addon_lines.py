"""The addons world written as one line per period (``make quality``'s ``addons-one-line``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def drop_addon_lines(folder: Path, products: tuple[str, ...]) -> str:
    """Rewrite ``folder``'s subscriptions without the add-on lines: the same world, one line per period.

    The generator draws add-on lines after the simulation from their own random stream, so the
    accounts, usage and churn are the same; the difference between the two worlds' figures is what
    reading base plus add-on lines costs or gains.
    """
    path = folder / "subscriptions.csv"
    subs = pd.read_csv(path, dtype=str, keep_default_na=False)
    subs[~subs["plan"].isin(products)].to_csv(path, index=False)
    return (f"the addons world (same seed) written as one line per period: its add-on lines "
            f"({', '.join(products)}) left out, the base lines as they were")
