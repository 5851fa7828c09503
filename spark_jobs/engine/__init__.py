"""The JVM side of sparkpg, as Python sees it: the Spark session and its JARs
(:mod:`~spark_jobs.engine.session`), how the engines take a connection
(:mod:`~spark_jobs.engine.options`) and reading failed Java calls (:mod:`~spark_jobs.engine.java`).
The lowest layer of ``spark_jobs``: it imports nothing else of it."""
