"""Feature definitions: one small named function per column (see ``features.base``).

Importing this package registers every definition in ``features.base.REGISTRY``;
the import order below is the column order of the feature table.
"""

from features import usage  # noqa: F401, I001  (registers; order = column order)
from features import usage_vs_date  # noqa: F401
from features import tickets  # noqa: F401
from features import milestones  # noqa: F401
from features import nps  # noqa: F401
from features import revenue  # noqa: F401
from features.base import REGISTRY, Feature, feature

__all__ = ["REGISTRY", "Feature", "feature"]
