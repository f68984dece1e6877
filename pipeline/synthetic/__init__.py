"""Synthetic B2B SaaS world: raw customer-success tables with a known churn truth."""
from .world import generate_world

__all__ = ["generate_world"]
