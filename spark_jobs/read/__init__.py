"""Reading PostgreSQL into DataFrames: options, catalog facts, partitioning, the type policy, the
planner and its engine-neutral plan, and one module per engine (``copy_engine``, ``spark_jdbc``);
the public functions are in :mod:`~spark_jobs.read.api`. Never imports :mod:`spark_jobs.write`."""
