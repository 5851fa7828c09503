"""Console links of a job run's logs (pure; the Spark UI link comes from the service).

The formats are the AWS console's deep links that Airflow's Amazon provider also builds
(``airflow/providers/amazon/aws/links/emr.py``): the S3 console on the run's log folder, and the
CloudWatch console on the log group filtered to the run's streams.

>>> from submission.runs import JobRunStatus
>>> run = JobRunStatus("app1", "run1", "RUNNING", log_uri="s3://logs/emr",
...                    log_group="/aws/emr-serverless")
>>> console_links(run, "us-east-1")["s3Logs"]
'https://console.aws.amazon.com/s3/buckets/logs?region=us-east-1&prefix=emr/applications/app1/jobs/run1/'
"""

from __future__ import annotations

from typing import Dict
from urllib.parse import quote_plus

from connectors.aws import parse_s3_uri
from submission.runs import JobRunStatus

CONSOLE = "https://console.aws.amazon.com"
#: The console of the other partitions, by region prefix (China, GovCloud).
PARTITION_CONSOLES = (
    ("cn-", "https://console.amazonaws.cn"),
    ("us-gov-", "https://console.amazonaws-us-gov.com"),
)


def console_for(region: str) -> str:
    """The AWS console of ``region``'s partition.

    >>> console_for("cn-northwest-1")
    'https://console.amazonaws.cn'
    """
    return next((url for prefix, url in PARTITION_CONSOLES if region.startswith(prefix)), CONSOLE)


def console_links(status: JobRunStatus, region: str) -> Dict[str, str]:
    """``{"s3Logs": ..., "cloudWatchLogs": ...}`` for the logging the run has."""
    links: Dict[str, str] = {}
    console = console_for(region)
    run_path = f"applications/{status.application_id}/jobs/{status.job_run_id}/"
    if status.log_uri:
        bucket, prefix = parse_s3_uri(status.log_uri.rstrip("/") + "/x")
        prefix = prefix[: -len("x")]
        links["s3Logs"] = f"{console}/s3/buckets/{bucket}?region={region}&prefix={prefix}{run_path}"
    if status.log_group:
        stream_prefix = f"{status.log_stream_prefix or ''}/{run_path}"
        # The console's fragment escapes '%' as '$' (CloudWatch Logs console deep links).
        query = quote_plus("?logStreamNameFilter=").replace("%", "$")
        links["cloudWatchLogs"] = (
            f"{console}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
            f"{quote_plus(status.log_group).replace('%', '$25')}{query}"
            f"{quote_plus(stream_prefix).replace('%', '$25')}"
        )
    return links
