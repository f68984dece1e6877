"""Synthetic B2B SaaS world: raw customer-success tables with a known churn truth."""
from .presets import PRESETS, preset_names
from .world import generate_world

__all__ = ["PRESETS", "generate_world", "preset_names"]
