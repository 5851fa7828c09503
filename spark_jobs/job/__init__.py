"""What spark-submit and EMR run: the main job (:mod:`~spark_jobs.job.main`) with its outputs and
Ctrl-C handling, and the doctor's connection probe (:mod:`~spark_jobs.job.connection_probe`). The
top layer: it uses reading and writing, nothing imports it but the entrypoints."""
