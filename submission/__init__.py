"""Job submission to EMR Serverless (operator side; never shipped to EMR).

- :mod:`submission.bundle`: ``dist/manifest.json`` and the spark-submit flags (:class:`SparkParams`);
- :mod:`submission.request`: :class:`JobSpec` and the pure StartJobRun request;
- :mod:`submission.runs`: start or re-attach, wait, cancel;
- :mod:`submission.logs`: driver logs and the error they end with;
- :mod:`submission.compat`: the JDBC JAR's version and the bundle against the application;
- :mod:`submission.resources`: driver/executor sizes for the pre-initialised workers;
- :mod:`submission.validate`: the request against the service model's constraints;
- :mod:`submission.links`: console links of a run's logs; :mod:`submission.s3`: 403-as-missing.
"""

from __future__ import annotations

from submission.bundle import BundleManifest, SparkParams, load_bundle, read_built_manifest
from submission.request import JobSpec, build_start_job_run_request
from submission.runs import JobRunStatus, cancel_run, start_or_attach, wait_for_run

__all__ = [
    "BundleManifest",
    "JobRunStatus",
    "JobSpec",
    "SparkParams",
    "build_start_job_run_request",
    "cancel_run",
    "load_bundle",
    "read_built_manifest",
    "start_or_attach",
    "wait_for_run",
]
