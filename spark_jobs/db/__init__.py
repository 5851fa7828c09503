"""The database as the Spark driver sees it: the resolved connection
(:mod:`~spark_jobs.db.target`), the driver-side pgjdbc connection (:mod:`~spark_jobs.db.connection`)
and what each kind of failure means for the user (:mod:`~spark_jobs.db.failures`). Imports only
:mod:`spark_jobs.engine` of ``spark_jobs``."""
