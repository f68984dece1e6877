"""The Spark engine: one module per job.

* :mod:`~pipeline.engine.spark.session`: the SparkSession and opening a source on it (tables as Spark views);
* :mod:`~pipeline.engine.spark.read`: reading folder files and catalog tables (Parquet types, CSV dialects);
* :mod:`~pipeline.engine.spark.errors`: turning Spark and JVM failures into one message;
* :mod:`~pipeline.engine.spark.engine`: the :class:`~pipeline.engine.engines.Engine` that scores on Spark.

Only this package imports PySpark (an import-linter contract in ``pyproject.toml``).
"""
