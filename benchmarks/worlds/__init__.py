"""Worlds for ``make quality`` that the project's generator does not make (test tooling, never imported by the pipeline)."""
