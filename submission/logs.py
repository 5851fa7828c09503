"""Driver logs of a job run (S3 first, then CloudWatch) and the error they end with.

:func:`driver_error` is pure: the last Python traceback of a log, else its first Java exception.
"""

from __future__ import annotations

import gzip
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from connectors.aws import AWS_ERRORS, aws_error, error_code, parse_s3_uri
from submission.runs import JobRunStatus
from submission.s3 import absence

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

#: GetLogEvents pages read at most per log (1 MB or 10,000 events each): the bound of a read.
MAX_LOG_PAGES = 500


@dataclass(frozen=True)
class DriverLog:
    """A driver log and where it was read from."""

    text: str
    source: str


def read_s3_log(s3: S3Client, uri: str) -> Optional[str]:
    """A gzipped log object's text, or None when it does not exist (yet) or is not readable.

    403 is "missing or not visible": without s3:ListBucket S3 answers 403 for a missing key, so
    the caller falls back to CloudWatch (with a warning naming the permissions) instead of failing.
    """
    bucket, key = parse_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except AWS_ERRORS as exc:
        why = absence(exc)
        if why == "missing":
            return None
        if why == "missing-or-hidden":
            log.warning(
                "%s: %s (missing, or the caller lacks s3:GetObject on it or s3:ListBucket on "
                "s3://%s); trying CloudWatch",
                uri,
                error_code(exc),
                bucket,
            )
            return None
        raise aws_error(f"reading {uri}", exc) from None
    data = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    return data.decode("utf-8", "replace")


@dataclass
class CloudWatchTail:
    """Reads a log stream forward, page by page, remembering where it stopped.

    CloudWatch Logs may answer with empty pages before the end of a stream; the end is the page
    whose ``nextForwardToken`` equals the token sent (CloudWatch Logs API reference,
    GetLogEvents: "If you have reached the end of the stream, it returns the same token you
    passed in"). :meth:`read_new` returns the lines added since the last call, so ``--follow``
    calls it on every poll; None when the stream does not exist (yet).
    """

    logs: Any
    group: str
    stream: str
    max_pages: int = MAX_LOG_PAGES
    token: Optional[str] = field(default=None, init=False)

    @classmethod
    def for_run(cls, logs: Any, status: JobRunStatus) -> Optional[CloudWatchTail]:
        """A tail of the run's driver stderr in CloudWatch; None when the run has no CloudWatch."""
        where = status.driver_log_locations("stderr").get("cloudwatch")
        if where is None:
            return None
        group, _, stream = where.partition(":")
        return cls(logs, group, stream)

    def follow(self, status: JobRunStatus) -> None:
        """Move to the stream of the run's current service attempt (retryPolicy, emr-7.1+).

        Attempt n > 1 writes under ``.../jobs/<run>/attempts/<n>/``; the new stream is read from
        its start.
        """
        where = status.driver_log_locations("stderr").get("cloudwatch")
        if where is None:
            return
        group, _, stream = where.partition(":")
        if (group, stream) != (self.group, self.stream):
            self.group, self.stream, self.token = group, stream, None

    def read_new(self) -> Optional[List[str]]:
        """The lines written since the last call (all of them on the first)."""
        lines: List[str] = []
        try:
            for _ in range(self.max_pages):
                kwargs: Dict[str, Any] = {
                    "logGroupName": self.group,
                    "logStreamName": self.stream,
                    "startFromHead": True,
                }
                if self.token:
                    kwargs["nextToken"] = self.token
                response = self.logs.get_log_events(**kwargs)
                lines += [str(e["message"]).rstrip("\n") for e in response.get("events", [])]
                next_token = response.get("nextForwardToken")
                if not next_token or next_token == self.token:
                    break
                self.token = next_token
            else:
                log.warning(
                    "%s:%s: stopped after %d pages of GetLogEvents",
                    self.group,
                    self.stream,
                    self.max_pages,
                )
        except AWS_ERRORS as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise aws_error(f"GetLogEvents {self.group}:{self.stream}", exc) from None
        return lines


def read_cloudwatch_log(logs: CloudWatchLogsClient, group: str, stream: str) -> Optional[str]:
    """All events of a log stream, oldest first, or None when the stream does not exist."""
    lines = CloudWatchTail(logs, group, stream).read_new()
    if lines is None:
        return None
    return "\n".join(lines) + ("\n" if lines else "")


def fetch_driver_log(
    status: JobRunStatus,
    *,
    s3: Optional[S3Client],
    logs: Optional[CloudWatchLogsClient],
    stream: str = "stderr",
    source: str = "auto",
) -> Optional[DriverLog]:
    """The driver's ``stream`` from S3 (first) or CloudWatch; None when neither has it."""
    where = status.driver_log_locations(stream)
    if source in ("auto", "s3") and s3 is not None and "s3" in where:
        text = read_s3_log(s3, where["s3"])
        if text is not None:
            return DriverLog(text, where["s3"])
    if source in ("auto", "cloudwatch") and logs is not None and "cloudwatch" in where:
        group, _, log_stream = where["cloudwatch"].partition(":")
        text = read_cloudwatch_log(logs, group, log_stream)
        if text is not None:
            return DriverLog(text, f"cloudwatch:{where['cloudwatch']}")
    return None


_TRACEBACK_START = "Traceback (most recent call last):"

_JAVA_EXCEPTION = re.compile(
    r"^(?:Exception in thread \"[^\"]*\" )?(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)\b.*$"
)


def driver_error(log_text: str, *, max_lines: int = 60) -> Optional[str]:
    """The interesting part of a driver log: the last Python traceback, else the first Java exception.

    A Python traceback runs from ``Traceback (most recent call last):`` to its first unindented
    line (the exception). A Java exception is its line, the ``at ...`` frames (first 10) and the
    ``Caused by:`` lines. None when the log has neither.
    """
    lines = log_text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == _TRACEBACK_START]
    if starts:
        start = starts[-1]
        block = [lines[start]]
        end = len(lines)
        for offset, line in enumerate(lines[start + 1 :], start + 1):
            block.append(line)
            if line and not line[0].isspace():
                end = offset
                break
        if "Py4JJavaError" in block[-1]:
            # py4j puts the Java exception (the real error) on the lines after its own.
            for line in lines[end + 1 : end + 15]:
                text = line.strip()
                if not text.startswith(
                    (":", "at ", "Caused by:", "...")
                ) and not _JAVA_EXCEPTION.match(text):
                    break
                block.append(line)
        chained = _chained_cause(lines, start)
        return "\n".join((chained + block)[-max_lines:])
    for index, line in enumerate(lines):
        stripped = _strip_log_prefix(line)
        if _JAVA_EXCEPTION.match(stripped):
            block = [stripped]
            frames = 0
            for follow in lines[index + 1 :]:
                text = follow.strip()
                if text.startswith("at "):
                    frames += 1
                    if frames <= 10:
                        block.append("\t" + text)
                elif text.startswith("Caused by:") or text.startswith("..."):
                    block.append(text)
                else:
                    break
            return "\n".join(block[:max_lines])
    return None


def _chained_cause(lines: List[str], start: int) -> List[str]:
    """The exception line that a ``During handling...``/``The above exception...`` chain names."""
    if start >= 2 and lines[start - 2].startswith(("The above exception", "During handling")):
        for line in reversed(lines[: start - 2]):
            if line and not line[0].isspace() and ":" in line:
                return [line, ""]
    return []


def _strip_log_prefix(line: str) -> str:
    """``25/11/26 02:13:18 ERROR ApplicationMaster: java.lang.X`` -> ``java.lang.X``."""
    match = re.match(r"^\S+ \S+ (?:ERROR|WARN|INFO) [\w.$]+: (.*)$", line)
    return match.group(1) if match else line.strip()
