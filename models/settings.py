"""Settings the modelling layer reads, typed and immutable (sections of :class:`pipeline.config.Config`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveInt

from features.settings import Section


class Labels(Section):
    horizon_days: PositiveInt = 90
    grace_days: Annotated[int, Field(ge=0)] = 30
