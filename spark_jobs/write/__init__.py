"""Writing DataFrames to PostgreSQL: the public :func:`~spark_jobs.write.api.write_table`, column
matching and type mapping, the staging lifecycle and the write engine's contract. Never imports
:mod:`spark_jobs.read`."""
