"""A local moto server with the few corrections sparkpg's tests need, and a context manager for it.

moto stands in for AWS in the Terraform, submission and ``doctor`` tests. Where moto's EMR
Serverless model differs from the real service in a way that breaks a client we use, it is
corrected here, in this one file, never in production code:

1. ``CreateApplication`` leaves the application in state ``STARTED``; the real service creates it
   in ``CREATING`` -> ``CREATED`` (it starts only on job submission or ``StartApplication``). The
   Terraform AWS provider waits for ``CREATED`` and times out otherwise, and moto refuses to update
   or delete a ``STARTED`` application. Patched: new applications are ``CREATED``.
   AWS: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/applications.html#application-states
2. ``CreateApplication`` accepts only the upper-case types ``SPARK``/``HIVE``; the service accepts
   any case (the seed and the provider's docs write ``Spark``/``hive``). Patched: the type is
   upper-cased before moto's check (moto stores it capitalised, ``Spark``, as the service does).
   AWS: https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_CreateApplication.html (``type``: "such as
   Spark or Hive")
3. moto drops ``architecture``, so ``GetApplication`` returns none and every second
   ``terraform plan`` shows a change. Patched: the requested architecture (service default
   ``X86_64``) is stored on create and update and returned by ``GetApplication``.
   AWS: https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_CreateApplication.html (``architecture``,
   default ``X86_64``) and https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_Application.html
4. S3 bucket policies: moto evaluates them without the request's context, and treats a condition
   it cannot evaluate (anything but ``StringEquals``) as met. So the usual "Deny s3:* if
   ``aws:SecureTransport`` is false" policy denies every request, TLS or not. AWS evaluates each
   condition against the request (IAM User Guide, condition operators). Patched: conditions are
   evaluated with the context of sparkpg's requests (TLS, the caller's account); a conditional
   Deny that holds applies, as in AWS (:func:`_condition_holds`).
   AWS: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html and
   https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html
5. EC2 ``DescribeSecurityGroupRules`` drops the description of a rule that references another
   security group (moto reads it only from CIDR ranges), so a second ``terraform plan`` wants to
   set it again. Patched: the description is also read from the referenced group.
   AWS: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SecurityGroupRule.html (``Description``, for CIDR and
   referenced-group rules alike)

Job runs (the submission tests, ``tests/submission``; :func:`apply_job_run_patches`):

6. ``StartJobRun`` ignores ``clientToken`` and starts a duplicate on every call; the service is
   idempotent on it (API reference, StartJobRun,
   https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_StartJobRun.html:
   ``clientToken`` "The client idempotency token of the job run to start", and the
   ``ConflictException`` error). Patched: a token already used on the application returns that
   run, whatever its state and age (how long the service remembers a token is undocumented, so
   the double never forgets one: a client must not rely on it being forgotten); the same token
   with another request (role, driver, overrides, timeout or name) is a ``ConflictException``.
7. Runs are born ``SUCCESS``; the service walks SUBMITTED -> SCHEDULED -> RUNNING -> SUCCESS or
   FAILED (QUEUED first when the application's concurrency is exhausted). Patched: each run
   follows a state script, one step per ``GetJobRun`` (the first call shows the first state,
   every later call the next one; the last state sticks); the default is
   ``SUBMITTED/SCHEDULED/RUNNING/SUCCESS``; a test scripts another with the run tag
   ``moto:states`` (e.g. ``QUEUED/RUNNING/FAILED``, ``/``, ``,`` or space between the states:
   a comma is outside the service's TagValue pattern, so sparkpg refuses it before sending; a
   script ending in ``RUNNING`` stays there).
   A FAILED run gets the service's ``stateDetails``, cut at 256 characters.
   AWS: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/job-states.html and
   https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_JobRun.html (``stateDetails``, 256 characters)
8. ``CancelJobRun`` jumps to ``CANCELLED``; the service goes ``CANCELLING`` first. Patched: the
   next ``GetJobRun`` after ``CANCELLING`` shows ``CANCELLED``.
   AWS: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/job-states.html (CANCELLING, then CANCELLED)
9. No driver logs exist. Patched: when a run ends, its driver ``stdout``/``stderr`` are written
   where the run's ``monitoringConfiguration`` says: ``<logUri>/applications/<app>/jobs/<run>/
   SPARK_DRIVER/stderr.gz`` in S3 (if the bucket exists) and, in CloudWatch, where EMR
   Serverless writes them: group ``logGroupName`` (default ``/aws/emr-serverless``), stream
   ``/applications/<app>/jobs/<run>/SPARK_DRIVER/stderr`` (leading slash), with
   ``logStreamNamePrefix`` prepended as it is when set (``team-a`` gives
   ``team-a/applications/...``); see :func:`cloudwatch_driver_stream`. A FAILED run's stderr holds
   a Python traceback, or a Java exception when the run has the tag ``moto:failure=java``.
   AWS: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/logging.html (S3 and CloudWatch log locations)
10. ``ListJobRuns`` fails with ResourceNotFoundException for an application that has no runs yet,
   and compares ``createdAtAfter``/``createdAtBefore`` (strings on the wire) with datetimes.
   Patched: an empty list, and the times are parsed first.
   AWS: https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_ListJobRuns.html (a list, possibly empty;
   ``createdAtAfter``/``createdAtBefore`` are timestamps)
11. A run's driver runs no code, so its stdout says nothing the client could read. Patched: a test
   scripts the driver's stdout with the run tag ``moto:stdout`` (at most 256 characters, like any
   tag value; ``b64:<base64>`` for text outside the TagValue pattern ``[A-Za-z0-9 /_.:=+@-]*``;
   the ``doctor --probe`` tests put the probe's result line there).
   AWS: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/logging.html (the driver's ``stdout`` is a log
   of its own, beside ``stderr``); the tag limits: https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_TagResource.html

Networking (:func:`apply_patches`), where moto accepts what AWS rejects:

12. ``CreateVpcEndpoint``/``ModifyVpcEndpoint`` accept an interface endpoint with two subnets in one
   Availability Zone; AWS allows one subnet per zone and answers ``DuplicateSubnetsInSameZone``.
   Patched: the same error.
   AWS: https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html
13. ``CreateVpcEndpoint`` with private DNS on a VPC without ``enableDnsSupport`` and
   ``enableDnsHostnames`` succeeds; AWS refuses it (``InvalidParameter``). Patched: the same error.
   AWS: https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html
17. ``CreateVpcEndpoint`` accepts a second interface endpoint with private DNS for a service that
   already has one in the VPC; AWS refuses it (``InvalidParameter``: "private-dns-enabled cannot
   be set because there is already a conflicting DNS domain ..."). Patched: the same error.
   AWS: https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html#interface-endpoint-private-dns

Knob (opt-in, off by default): S3 as a caller without ``s3:ListBucket`` sees it

14. moto does not evaluate IAM, so HeadObject/GetObject on a missing key always answer 404. AWS
   answers **403** (HeadObject: no body, code ``403``; GetObject: ``AccessDenied``) when the
   caller lacks ``s3:ListBucket`` on the bucket, and ListObjects(V2) is denied too (S3 API
   reference, HeadObject and GetObject, "Permissions"). Opt in per bucket with the bucket tag
   (AWS: https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html,
   https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html)
   :data:`S3_LIST_BUCKET_TAG` = ``denied``::

       s3.put_bucket_tagging(Bucket="b", Tagging={"TagSet": [
           {"Key": "moto:list-bucket", "Value": "denied"}]})

   Existing keys still read normally; only missing keys (and listing) answer 403.

More job runs (:func:`apply_job_run_patches`):

15. ``GetDashboardForJobRun`` is not implemented. Patched: it answers ``{"url": ...}``, a stand-in
   for the pre-signed Spark UI URL the service returns (EMR Serverless API reference,
   GetDashboardForJobRun: ``GET /applications/<app>/jobruns/<run>/dashboard``).
   AWS: https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_GetDashboardForJobRun.html
16. ``StartJobRun`` drops ``retryPolicy`` and runs have no ``attempt``; from emr-7.1.0 the service
   keeps the policy and GetJobRun reports the run's current ``attempt`` (EMR Serverless API
   reference, JobRun; User Guide, "Job resiliency"); before emr-7.1.0 it has no retries and
   refuses a ``retryPolicy``, and ``maxFailedAttemptsPerHour`` applies to streaming runs only
   (API reference, RetryPolicy). Patched: a ``retryPolicy`` is refused (``ValidationException``)
   on a release before emr-7.1.0 and for the other mode's field, else returned as sent;
   ``attempt`` is 1, and a test scripts a retried run with the run tag ``moto:attempt``
   (e.g. ``2``): GetJobRun then reports that attempt and the driver logs of it are written under
   ``.../jobs/<run>/attempts/<n>/SPARK_DRIVER/`` (the per-attempt log folder of retried runs).
   AWS: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/jobs-resiliency.html and
   https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_RetryPolicy.html
18. ``CreateApplication``/``UpdateApplication`` drop ``monitoringConfiguration`` (the infrastructure
   note's application sets CloudWatch logging there), and driver logs follow only the run's own
   configuration. The service keeps it, returns it from ``GetApplication``, and applies it to the
   application's runs under the run's own (EMR Serverless User Guide, "Default application
   configuration"). Patched: kept, returned, and the driver logs of patch 9 go where the merged
   configuration says (:func:`applied_monitoring`).
   AWS: https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/default-configs.html
20. A run's ``createdAt`` is midnight of its day; the service records when the run was created
   (API reference, JobRun: "The date and time when the job run was created"), which tells a
   client whether StartJobRun answered with a new run or with the earlier run of a reused
   ``clientToken``. Patched: the time of creation. Knob: the run tag ``moto:created-days-ago``
   (e.g. ``30``) backdates a run, to test what lies beyond a client's look-back window.
   AWS: https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_JobRun.html (``createdAt``)
19. ``StartJobRun`` accepts any ``executionTimeoutMinutes`` from 5 on; from emr-7.11.0 the service
   refuses a batch run's timeout of 0 or above 10080 minutes (API reference, StartJobRun).
   Patched: the same refusal (``ValidationException``) on those releases.
   AWS: https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_StartJobRun.html (``executionTimeoutMinutes``)

RDS (:func:`apply_patches`):

21. ``ModifyDBCluster`` with ``EnableIAMDatabaseAuthentication`` answers but changes nothing:
   moto stores the flag under another attribute than the one ``DescribeDBClusters`` reports as
   ``IAMDatabaseAuthenticationEnabled``. The service turns IAM database authentication on or off
   (with ``ApplyImmediately``, at once). Patched: the flag is what DescribeDBClusters reports.
   AWS: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBCluster.html
   (``EnableIAMDatabaseAuthentication``) and
   https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.Enabling.html

Run it::

    python -m devtools.moto_server --port 5000

or, from tests::

    with moto_server() as endpoint_url:   # "http://127.0.0.1:<free port>"
        boto3.client("s3", endpoint_url=endpoint_url, ...)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

DEFAULT_ARCHITECTURE = "X86_64"
_REPO_ROOT = Path(__file__).resolve().parent.parent


def apply_patches() -> None:
    """Correct moto's EMR Serverless model (see the module docstring). Idempotent."""
    from moto.emrserverless import models, responses

    backend_cls: Any = models.EMRServerlessBackend
    response_cls: Any = responses.EMRServerlessResponse
    if getattr(backend_cls, "_sparkpg_patched", False):
        return

    original_create: Callable[..., Any] = backend_cls.create_application

    def create_application(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Patch 2: any case for the engine type.
        if isinstance(kwargs.get("application_type"), str):
            kwargs["application_type"] = kwargs["application_type"].upper()
        application = original_create(self, *args, **kwargs)
        # Patch 1: the service's state after creation.
        application.state = "CREATED"
        application.architecture = DEFAULT_ARCHITECTURE
        return application

    original_create_response: Callable[..., Any] = response_cls.create_application
    original_update_response: Callable[..., Any] = response_cls.update_application

    def _store_architecture(handler: Any, application_id: Optional[str]) -> None:
        if not application_id:
            return
        application = handler.emrserverless_backend.get_application(application_id)
        architecture = handler._get_param("architecture")
        if architecture:
            application.architecture = architecture
        monitoring = handler._get_param("monitoringConfiguration")
        if monitoring is not None:  # patch 18: kept, and returned by GetApplication
            application.monitoring_configuration = monitoring

    def create_application_response(self: Any) -> Any:
        # Patch 3: keep the requested architecture.
        result = original_create_response(self)
        application_ids = [
            app.id
            for app in self.emrserverless_backend.applications.values()
            if app.client_token == self._get_param("clientToken")
            and app.name == self._get_param("name")
        ]
        _store_architecture(self, application_ids[-1] if application_ids else None)
        return result

    def update_application_response(self: Any) -> Any:
        _store_architecture(self, self._get_param("applicationId"))
        return original_update_response(self)

    backend_cls.create_application = create_application
    response_cls.create_application = create_application_response
    response_cls.update_application = update_application_response
    _patch_s3_bucket_policy()
    _patch_security_group_rule_description()
    _patch_interface_endpoint_rules()
    _patch_s3_without_list_bucket()
    _patch_rds_iam_auth()
    backend_cls._sparkpg_patched = True


def _patch_rds_iam_auth() -> None:
    """Patch 21: ModifyDBCluster's EnableIAMDatabaseAuthentication takes effect."""
    from moto.rds.models import RDSBackend

    backend_cls: Any = RDSBackend
    original_modify: Callable[..., Any] = backend_cls.modify_db_cluster

    def modify_db_cluster(self: Any, kwargs: Dict[str, Any]) -> Any:
        enable = kwargs.get("enable_iam_database_authentication")
        if enable is not None:
            # moto's DescribeDBClusters reports IAMDatabaseAuthenticationEnabled from iam_auth.
            self.describe_db_clusters(db_cluster_identifier=kwargs["db_cluster_identifier"])[
                0
            ].iam_auth = enable
        return original_modify(self, kwargs)

    backend_cls.modify_db_cluster = modify_db_cluster


def _patch_interface_endpoint_rules() -> None:
    """Patches 12, 13 and 17: AWS's rules for the subnets and private DNS of interface endpoints.

    AWS PrivateLink guide, "Access an AWS service using an interface VPC endpoint"
    (https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html): an
    interface endpoint can have at most one subnet per Availability Zone, and private DNS needs
    the VPC attributes enableDnsSupport and enableDnsHostnames. The error codes and messages are
    the service's (``DuplicateSubnetsInSameZone``, ``InvalidParameter``).

    Patch 17: private DNS makes the endpoint answer for the service's default DNS name
    (``logs.us-east-1.amazonaws.com``) through a private hosted zone associated with the VPC
    (https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html#interface-endpoint-private-dns,
    "DNS hostnames"); a VPC can hold only one such zone per name, so a second private-DNS endpoint
    for the same service in one VPC is refused with ``InvalidParameter`` "private-dns-enabled
    cannot be set because there is already a conflicting DNS domain for <name> in the VPC <vpc>"
    (the service's words, quoted in terraform-provider-aws issue 17535).
    """
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.vpcs import VPCBackend

    backend_cls: Any = VPCBackend

    def check_one_subnet_per_zone(backend: Any, subnet_ids: List[str]) -> None:
        zones: Dict[str, str] = {}
        for subnet_id in subnet_ids:
            zone = backend.get_subnet(subnet_id).availability_zone
            if zone in zones and zones[zone] != subnet_id:
                raise EC2ClientError(
                    "DuplicateSubnetsInSameZone",
                    f"Found another VPC endpoint subnet in the availability zone of {subnet_id}. "
                    "VPC endpoint subnets should be in different availability zones supported "
                    "by the VPC endpoint service.",
                )
            zones[zone] = subnet_id

    def is_true(value: Any) -> bool:
        return str(value).lower() == "true"

    def check_no_conflicting_private_dns(backend: Any, vpc_id: str, service_name: str) -> None:
        # Patch 17: one private-DNS interface endpoint per service and VPC.
        for endpoint in backend.vpc_end_points.values():
            if (
                endpoint.vpc_id == vpc_id
                and endpoint.service_name == service_name
                and (endpoint.vpc_endpoint_type or "").lower() == "interface"
                and is_true(endpoint.private_dns_enabled)
                and endpoint.state not in ("deleted", "deleting", "rejected", "failed")
            ):
                raise EC2ClientError(
                    "InvalidParameter",
                    "private-dns-enabled cannot be set because there is already a conflicting "
                    f"DNS domain for {service_dns_name(service_name)} in the VPC {vpc_id}",
                )

    original_create: Callable[..., Any] = backend_cls.create_vpc_endpoint
    original_modify: Callable[..., Any] = backend_cls.modify_vpc_endpoint

    def create_vpc_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint_type = kwargs.get("endpoint_type") or ""
        if endpoint_type.lower() == "interface":
            vpc = self.get_vpc(kwargs["vpc_id"])
            check_one_subnet_per_zone(self, list(kwargs.get("subnet_ids") or []))
            dns_ok = is_true(vpc.enable_dns_support) and is_true(vpc.enable_dns_hostnames)
            if kwargs.get("private_dns_enabled") and not dns_ok:
                raise EC2ClientError(
                    "InvalidParameter",
                    "Enabling private DNS requires both enableDnsSupport and "
                    f"enableDnsHostnames VPC attributes set to true for {vpc.id}",
                )
            if kwargs.get("private_dns_enabled"):
                check_no_conflicting_private_dns(self, vpc.id, str(kwargs.get("service_name")))
        return original_create(self, *args, **kwargs)

    def modify_vpc_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = self.describe_vpc_endpoints(vpc_end_point_ids=[kwargs["vpc_id"]])[0]
        if (endpoint.vpc_endpoint_type or "").lower() == "interface":
            removed = set(kwargs.get("remove_subnets") or [])
            kept = [s for s in endpoint.subnet_ids or [] if s not in removed]
            check_one_subnet_per_zone(self, kept + list(kwargs.get("add_subnets") or []))
        return original_modify(self, *args, **kwargs)

    backend_cls.create_vpc_endpoint = create_vpc_endpoint
    backend_cls.modify_vpc_endpoint = modify_vpc_endpoint


def service_dns_name(service_name: str) -> str:
    """The default DNS name of an AWS service's endpoint name (the name private DNS takes over).

    >>> service_dns_name("com.amazonaws.us-east-1.logs")
    'logs.us-east-1.amazonaws.com'
    >>> service_dns_name("cn.com.amazonaws.cn-north-1.secretsmanager")
    'secretsmanager.cn-north-1.amazonaws.com.cn'
    """
    china = service_name.startswith("cn.com.amazonaws.")
    rest = service_name[len("cn.com.amazonaws.") if china else len("com.amazonaws.") :]
    region, _, service = rest.partition(".")
    return f"{service}.{region}.amazonaws.com{'.cn' if china else ''}"


S3_LIST_BUCKET_TAG = "moto:list-bucket"


def _patch_s3_without_list_bucket() -> None:
    """Knob 14: a bucket tagged ``moto:list-bucket=denied`` answers as to a caller without ListBucket.

    AWS S3 API reference, HeadObject (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html)
    and GetObject, "Permissions": without ``s3:ListBucket`` a request for a key that does not exist
    gets 403 Access Denied, not 404.
    """
    from moto.s3 import responses as s3_responses
    from moto.s3.exceptions import S3AccessDeniedError

    response_cls: Any = s3_responses.S3Response

    def list_bucket_denied(handler: Any, bucket_name: str) -> bool:
        try:
            tags = handler.backend.get_bucket_tagging(bucket_name)["Tags"]
        except Exception:  # no such bucket: moto's own error follows
            return False
        return any(t["Key"] == S3_LIST_BUCKET_TAG and t["Value"] == "denied" for t in tags)

    original_head: Callable[..., Any] = response_cls.head_object
    original_get_key: Callable[..., Any] = response_cls._get_key
    original_list: Callable[..., Any] = response_cls.list_objects
    original_list_v2: Callable[..., Any] = response_cls.list_objects_v2

    def head_object(self: Any, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        status, headers, body = original_head(self, bucket_name, *args, **kwargs)
        if status == 404 and list_bucket_denied(self, bucket_name):
            return 403, {}, ""
        return status, headers, body

    def get_key(self: Any, *args: Any, **kwargs: Any) -> Any:
        from moto.s3.exceptions import MissingKey

        try:
            return original_get_key(self, *args, **kwargs)
        except MissingKey:
            if list_bucket_denied(self, self.bucket_name):
                raise S3AccessDeniedError() from None
            raise

    def guarded(original: Callable[..., Any]) -> Callable[..., Any]:
        def listing(self: Any, *args: Any, **kwargs: Any) -> Any:
            if list_bucket_denied(self, self.bucket_name):
                raise S3AccessDeniedError()
            return original(self, *args, **kwargs)

        return listing

    response_cls.head_object = head_object
    response_cls._get_key = get_key
    response_cls.list_objects = guarded(original_list)
    response_cls.list_objects_v2 = guarded(original_list_v2)


def _patch_security_group_rule_description() -> None:
    """Patch 5: a rule's description, whether it names a CIDR range or a security group."""
    from moto.ec2.models import security_groups

    def description(self: Any) -> Optional[str]:
        found = self.ip_range.get("Description") or (self.source_group or {}).get("Description")
        return str(found) if found is not None else None

    rule_cls: Any = security_groups.SecurityGroupRule
    rule_cls.description = property(description)


#: The request context patch 4 evaluates bucket-policy conditions with: sparkpg's clients reach
#: AWS through the SDK's HTTPS endpoints (the moto server stands in for them), with TLS 1.2 or
#: later; the caller is in the bucket's account (moto's one account).
S3_REQUEST_CONTEXT = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}


def _condition_holds(condition: Dict[str, Any], context: Dict[str, str]) -> Optional[bool]:
    """Whether a policy ``Condition`` block holds for ``context``; None for an unknown operator.

    IAM User Guide, "IAM JSON policy elements: Condition operators"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
    all operators must hold, and any of an operator's values; a key absent from the request does
    not match, except under a negated operator (``StringNotEquals``, ...) and with ``...IfExists``.
    """
    import fnmatch

    tests: Dict[str, Callable[[str, str], bool]] = {
        "StringEquals": lambda actual, wanted: actual == wanted,
        "StringEqualsIgnoreCase": lambda actual, wanted: actual.lower() == wanted.lower(),
        "StringLike": lambda actual, wanted: fnmatch.fnmatchcase(actual, wanted),
        "Bool": lambda actual, wanted: actual.lower() == wanted.lower(),
        "NumericEquals": lambda actual, wanted: float(actual) == float(wanted),
        "NumericLessThan": lambda actual, wanted: float(actual) < float(wanted),
        "NumericLessThanEquals": lambda actual, wanted: float(actual) <= float(wanted),
        "NumericGreaterThan": lambda actual, wanted: float(actual) > float(wanted),
        "NumericGreaterThanEquals": lambda actual, wanted: float(actual) >= float(wanted),
    }
    negated = {
        "StringNotEquals": "StringEquals",
        "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
        "StringNotLike": "StringLike",
        "NumericNotEquals": "NumericEquals",
    }
    for raw_operator, keys in condition.items():
        operator = (
            raw_operator[: -len("IfExists")] if raw_operator.endswith("IfExists") else raw_operator
        )
        positive = negated.get(operator, operator)
        if positive not in tests and operator != "Null":
            return None
        for key, wanted in keys.items():
            values = [str(v) for v in (wanted if isinstance(wanted, list) else [wanted])]
            actual = context.get(key)
            if operator == "Null":
                holds = (actual is None) == (values[0].lower() == "true")
            elif actual is None:
                holds = raw_operator.endswith("IfExists") or operator in negated
            else:
                matched = any(tests[positive](actual, value) for value in values)
                holds = not matched if operator in negated else matched
            if not holds:
                return False
    return True


def _patch_s3_bucket_policy() -> None:
    """Patch 4: bucket-policy conditions are evaluated with the request's context.

    moto treats every condition it cannot evaluate as met, so "Deny s3:* unless
    aws:SecureTransport" denies every request. AWS evaluates the condition against the request
    (S3 User Guide, "Bucket policy examples", https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html;
    the operators: :func:`_condition_holds`), so here a conditional statement applies exactly when
    its condition holds for :data:`S3_REQUEST_CONTEXT` and the caller's account. A condition with
    an operator this double cannot evaluate applies to a Deny (fail closed: a test then sees the
    denial) and not to an Allow.
    """
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult
    from moto.s3 import models as s3_models

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        statements = json.loads(self.policy.decode())["Statement"]
        if isinstance(statements, dict):
            statements = [statements]
        context = {**S3_REQUEST_CONTEXT, "aws:PrincipalAccount": str(self.account_id)}
        permitted = False
        for raw in statements:
            if raw.get("Condition"):
                holds = _condition_holds(raw["Condition"], context)
                if holds is None:
                    holds = raw.get("Effect") == "Deny"
                if not holds:
                    continue
                raw = {k: v for k, v in raw.items() if k != "Condition"}
            result = IAMPolicyStatement(raw).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    bucket_cls: Any = s3_models.FakeBucket
    bucket_cls.get_permission = get_permission


JOB_STATES_TAG = "moto:states"
JOB_FAILURE_TAG = "moto:failure"
JOB_STDOUT_TAG = "moto:stdout"
JOB_ATTEMPT_TAG = "moto:attempt"
JOB_CREATED_DAYS_AGO_TAG = "moto:created-days-ago"
DEFAULT_JOB_STATES = ("SUBMITTED", "SCHEDULED", "RUNNING", "SUCCESS")
_TERMINAL = ("SUCCESS", "FAILED", "CANCELLED")

_DRIVER_STDOUT = "sparkpg moto driver stdout\n"


def scripted_stdout(text: str) -> str:
    """The ``moto:stdout`` tag value that makes a run's driver print ``text`` (patch 11)."""
    return "b64:" + base64.b64encode(text.encode("utf-8")).decode("ascii")


_DRIVER_LOG_HEAD = (
    "25/11/26 02:13:10 INFO SparkContext: Running Spark version 3.5.0-amzn-0\n"
    "25/11/26 02:13:11 INFO ResourceUtils: No custom resources configured for spark.driver.\n"
)
_DRIVER_LOG_TAIL = "25/11/26 02:13:20 INFO ShutdownHookManager: Shutdown hook called\n"
_PYTHON_FAILURE = (
    "Traceback (most recent call last):\n"
    '  File "/tmp/spark-5c1d/read_tables.py", line 41, in <module>\n'
    "    sys.exit(main())\n"
    '  File "/tmp/spark-5c1d/sparkpg-0.1.0-code.zip/connectors/secrets.py", line 88, in fetch\n'
    "connectors.errors.SecretNotFoundError: secret spark/postgres/aurora does not exist in "
    "us-east-1 (moto scripted failure)\n"
)
_JAVA_FAILURE = (
    "25/11/26 02:13:15 ERROR SparkSubmit: Job failed\n"
    'Exception in thread "main" java.lang.ClassNotFoundException: org.postgresql.Driver\n'
    "\tat java.base/java.net.URLClassLoader.findClass(URLClassLoader.java:445)\n"
    "\tat java.base/java.lang.ClassLoader.loadClass(ClassLoader.java:592)\n"
    "\tat org.apache.spark.sql.execution.datasources.jdbc.DriverRegistry$.register(DriverRegistry.scala:46)\n"
)


def _driver_logs(job_run: Any) -> Dict[str, str]:
    """The driver's stdout/stderr of a finished run (see patch 9)."""
    stderr = _DRIVER_LOG_HEAD
    if job_run.state == "FAILED":
        java = (job_run.tags or {}).get(JOB_FAILURE_TAG) == "java"
        stderr += _JAVA_FAILURE if java else _PYTHON_FAILURE
    stdout = (job_run.tags or {}).get(JOB_STDOUT_TAG)  # patch 11
    if stdout and stdout.startswith("b64:"):
        stdout = base64.b64decode(stdout[len("b64:") :]).decode("utf-8")
    stdout = f"{stdout.rstrip()}\n" if stdout else _DRIVER_STDOUT
    return {"stdout": stdout, "stderr": stderr + _DRIVER_LOG_TAIL}


def cloudwatch_driver_stream(
    application_id: str, job_run_id: str, log_type: str, prefix: Optional[str] = None
) -> str:
    """The CloudWatch stream EMR Serverless writes a driver log to (patch 9).

    AWS's EMR Serverless User Guide, "Logging for EMR Serverless with Amazon CloudWatch"
    (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/logging.html#jobs-log-storage-cw):
    the default stream name starts with ``/applications/<application>/jobs/<job run>/``, followed
    by the worker type and the log type; a ``logStreamNamePrefix`` is prepended to it.

    >>> cloudwatch_driver_stream("app", "run", "stderr")
    '/applications/app/jobs/run/SPARK_DRIVER/stderr'
    >>> cloudwatch_driver_stream("app", "run", "stdout", "team-a")
    'team-a/applications/app/jobs/run/SPARK_DRIVER/stdout'
    """
    return f"{prefix or ''}/applications/{application_id}/jobs/{job_run_id}/SPARK_DRIVER/{log_type}"


def applied_monitoring(
    application: Optional[Dict[str, Any]], run: Optional[Dict[str, Any]]
) -> Dict[str, Any]:
    """The monitoring configuration EMR Serverless applies to a run (patch 18).

    EMR Serverless User Guide, "Default application configuration for EMR Serverless"
    (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/default-configs.html#default-configs-override):
    a run inherits the application's ``monitoringConfiguration``; what the run's
    ``configurationOverrides`` set for a logging destination overrides that destination's fields,
    the rest of the application's stays.

    >>> applied_monitoring({"cloudWatchLoggingConfiguration": {"enabled": True}},
    ...                    {"cloudWatchLoggingConfiguration": {"logGroupName": "/g"}})
    {'cloudWatchLoggingConfiguration': {'enabled': True, 'logGroupName': '/g'}}
    """
    applied: Dict[str, Any] = {}
    for layer in (application or {}, run or {}):
        for destination, fields in layer.items():
            applied[destination] = {**applied.get(destination, {}), **(fields or {})}
    return applied


def _write_driver_logs(backend: Any, job_run: Any) -> None:
    import gzip

    application = backend.get_application(job_run.application_id)
    monitoring = applied_monitoring(
        getattr(application, "monitoring_configuration", None),
        (job_run.configuration_overrides or {}).get("monitoringConfiguration"),
    )
    attempt = getattr(job_run, "attempt", 1) or 1
    attempt_dir = f"/attempts/{attempt}" if attempt > 1 else ""  # patch 16
    suffix = f"applications/{job_run.application_id}/jobs/{job_run.id}{attempt_dir}/SPARK_DRIVER"
    logs = _driver_logs(job_run)
    log_uri = (monitoring.get("s3MonitoringConfiguration") or {}).get("logUri")
    if log_uri and log_uri.startswith("s3://"):
        from moto.s3.models import s3_backends

        bucket, _, prefix = log_uri[len("s3://") :].partition("/")
        prefix = f"{prefix.rstrip('/')}/" if prefix.strip("/") else ""
        s3 = s3_backends[backend.account_id][backend.partition]
        if bucket in s3.buckets:
            for stream, text in logs.items():
                key = f"{prefix}{suffix}/{stream}.gz"
                s3.put_object(bucket, key, gzip.compress(text.encode("utf-8"), mtime=0))
    cloudwatch = monitoring.get("cloudWatchLoggingConfiguration") or {}
    if cloudwatch.get("enabled"):
        from moto.logs.models import logs_backends

        cw = logs_backends[backend.account_id][backend.region_name]
        group = cloudwatch.get("logGroupName") or "/aws/emr-serverless"
        prefix = cloudwatch.get("logStreamNamePrefix")
        if group not in cw.groups:
            cw.create_log_group(group, tags={})
        now = int(time.time() * 1000)
        for stream, text in logs.items():
            name = cloudwatch_driver_stream(
                job_run.application_id, f"{job_run.id}{attempt_dir}", stream, prefix
            )
            cw.ensure_log_stream(group, name)
            events = [
                {"timestamp": now + i, "message": line} for i, line in enumerate(text.splitlines())
            ]
            cw.put_log_events(group, name, events)


def _advance(backend: Any, job_run: Any) -> None:
    """One step of the run's state script (patches 5 and 6)."""
    if job_run.state == "CANCELLING":
        job_run.state = "CANCELLED"
        job_run.state_details = "Job run was cancelled by the user."
        return
    script: List[str] = getattr(job_run, "_sparkpg_script", [])
    step: int = getattr(job_run, "_sparkpg_step", 0)
    if job_run.state in _TERMINAL or step + 1 >= len(script):
        return
    job_run._sparkpg_step = step + 1
    job_run.state = script[step + 1]
    if job_run.state == "FAILED":
        details = (
            "Job failed, please check complete logs in configured logging destination. "
            "ExitCode: 1. Last few exceptions: "
            + _driver_logs(job_run)["stderr"].replace("\n", " ")
        )
        job_run.state_details = details[:256]
    if job_run.state in ("SUCCESS", "FAILED"):
        _write_driver_logs(backend, job_run)


def _release(label: str) -> tuple:
    match = re.match(r"^emr-(?:spark-)?(\d+)\.(\d+)\.(\d+)", label or "")
    return tuple(int(part) for part in match.groups()) if match else ()


def _refuse_what_the_release_refuses(handler: Any) -> None:
    """Patches 16 and 19: StartJobRun options the application's release or the run's mode refuse.

    EMR Serverless User Guide, "Job resiliency"
    (https://docs.aws.amazon.com/emr/latest/EMR-Serverless-UserGuide/jobs-resiliency.html):
    retry policies need release 7.1.0 or later. API reference, RetryPolicy
    (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_RetryPolicy.html):
    ``maxAttempts`` applies to BATCH runs only, ``maxFailedAttemptsPerHour`` to STREAMING runs only.
    API reference, StartJobRun
    (https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_StartJobRun.html),
    ``executionTimeoutMinutes``: from release 7.11.0 a batch run's timeout is at most 10080
    minutes and 0 (no timeout) is no longer accepted. The service's exact messages are not
    documented; these name the rule.
    """
    from moto.emrserverless.exceptions import ValidationException

    application = handler.emrserverless_backend.get_application(handler._get_param("applicationId"))
    release = _release(application.release_label)
    policy = handler._get_param("retryPolicy") or {}
    mode = str(handler._get_param("mode") or "BATCH").upper()
    if policy and release and release < (7, 1, 0):
        raise ValidationException(
            f"retryPolicy is not supported for release label {application.release_label}: job "
            "retries need emr-7.1.0 or later"
        )
    if "maxFailedAttemptsPerHour" in policy and mode != "STREAMING":
        raise ValidationException("maxFailedAttemptsPerHour is only applicable for STREAMING mode")
    if "maxAttempts" in policy and mode != "BATCH":
        raise ValidationException("maxAttempts is only applicable for BATCH mode")
    timeout = handler._get_param("executionTimeoutMinutes")
    bounded = mode == "BATCH" and release >= (7, 11, 0)
    if bounded and timeout is not None and not 1 <= int(timeout) <= 10080:
        raise ValidationException(
            f"executionTimeoutMinutes must be between 1 and 10080 for release label "
            f"{application.release_label}"
        )


#: What makes two StartJobRun requests with one clientToken "the same request" (patch 6); the
#: tags are left out (the service's comparison is undocumented; sparkpg's tokens cover the rest).
_IDEMPOTENT_FIELDS = (
    "execution_role_arn",
    "job_driver",
    "configuration_overrides",
    "execution_timeout_minutes",
    "name",
)


def apply_job_run_patches() -> None:
    """Job-run behaviour of the service that moto lacks (module docstring, 6-11, 15, 16). Idempotent."""
    from moto.emrserverless import models

    backend_cls: Any = models.EMRServerlessBackend
    if getattr(backend_cls, "_sparkpg_job_runs_patched", False):
        return
    original_start: Callable[..., Any] = backend_cls.start_job_run
    original_get: Callable[..., Any] = backend_cls.get_job_run
    original_cancel: Callable[..., Any] = backend_cls.cancel_job_run
    original_list: Callable[..., Any] = backend_cls.list_job_runs

    def start_job_run(self: Any, **kwargs: Any) -> Any:
        application_id, token = kwargs["application_id"], kwargs["client_token"]
        request = {k: kwargs.get(k) for k in _IDEMPOTENT_FIELDS}
        for existing in self.job_runs.get(application_id, []):
            if token and existing.client_token == token:  # patch 6
                if getattr(existing, "_sparkpg_request", request) != request:
                    from moto.core.exceptions import JsonRESTError

                    raise JsonRESTError(
                        "ConflictException",
                        f"clientToken {token} was already used for another request",
                    )
                return existing
        job_run = original_start(self, **kwargs)
        job_run._sparkpg_request = request
        tags = job_run.tags or {}
        script = [
            state.strip().upper()
            for state in re.split(r"[,/ ]", tags.get(JOB_STATES_TAG, "/".join(DEFAULT_JOB_STATES)))
            if state.strip()
        ]
        job_run._sparkpg_script = script or list(DEFAULT_JOB_STATES)
        job_run._sparkpg_step = 0
        job_run.state = job_run._sparkpg_script[0]
        job_run.retry_policy = None  # patch 16 (set by the response, which sees the request)
        job_run.attempt = int(tags.get(JOB_ATTEMPT_TAG, "1"))
        # Patch 20: the time of creation, backdated by the knob moto:created-days-ago.
        days_ago = float(tags.get(JOB_CREATED_DAYS_AGO_TAG, "0"))
        job_run.created_at = models.utcnow() - datetime.timedelta(days=days_ago)
        job_run.updated_at = job_run.created_at
        return job_run

    def get_job_run(self: Any, application_id: str, job_run_id: str) -> Any:
        job_run = original_get(self, application_id, job_run_id)
        if getattr(job_run, "_sparkpg_seen", False):
            state_before = job_run.state
            _advance(self, job_run)
            if job_run.state != state_before:
                job_run.updated_at = models.utcnow()
        job_run._sparkpg_seen = True  # every state is seen by at least one GetJobRun
        return job_run

    def cancel_job_run(self: Any, application_id: str, job_run_id: str) -> Any:
        job_run = original_get(self, application_id, job_run_id)
        if job_run.state in _TERMINAL:
            return application_id, job_run_id
        result = original_cancel(self, application_id=application_id, job_run_id=job_run_id)
        job_run.state = "CANCELLING"  # patch 8
        job_run._sparkpg_seen = False
        return result

    def list_job_runs(self: Any, **kwargs: Any) -> Any:
        from datetime import datetime, timezone

        for name in ("created_at_after", "created_at_before"):  # patch 10
            value = kwargs.get(name)
            if isinstance(value, str):
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                kwargs[name] = parsed.astimezone(timezone.utc).replace(tzinfo=None)
            elif isinstance(value, (int, float)):
                kwargs[name] = datetime.fromtimestamp(value, timezone.utc).replace(tzinfo=None)
        application_id = kwargs["application_id"]
        self.get_application(application_id)  # raises for an unknown application
        if application_id not in self.job_runs:
            return []  # patch 10: an application without runs lists none
        return original_list(self, **kwargs)

    def get_dashboard_for_job_run(self: Any) -> Any:  # patch 15
        from moto.core.responses import ActionResult

        application_id = self._get_param("applicationId")
        job_run_id = self._get_param("jobRunId")
        original_get(self.emrserverless_backend, application_id, job_run_id)  # unknown: 404
        url = (
            f"https://{application_id}.dashboard.emr-serverless.{self.region}.amazonaws.com/"
            f"shs/history/{job_run_id}/jobs/?authToken=moto"
        )
        return ActionResult({"url": url})

    from moto.emrserverless import responses, urls

    response_cls: Any = responses.EMRServerlessResponse
    response_cls.get_dashboard_for_job_run = get_dashboard_for_job_run
    original_start_response: Callable[..., Any] = response_cls.start_job_run

    def start_job_run_response(self: Any) -> Any:  # patch 16: keep the retryPolicy
        _refuse_what_the_release_refuses(self)
        result = original_start_response(self)
        policy = self._get_param("retryPolicy")
        token = self._get_param("clientToken")
        for job_run in self.emrserverless_backend.job_runs.get(
            self._get_param("applicationId"), []
        ):
            if job_run.client_token == token and policy:
                job_run.retry_policy = policy
        return result

    response_cls.start_job_run = start_job_run_response
    urls.url_paths[
        "{0}/applications/(?P<applicationId>[^/]+)/jobruns/(?P<jobRunId>[^/]+)/dashboard$"
    ] = response_cls.dispatch
    backend_cls.start_job_run = start_job_run
    backend_cls.get_job_run = get_job_run
    backend_cls.cancel_job_run = cancel_job_run
    backend_cls.list_job_runs = list_job_runs
    backend_cls._sparkpg_job_runs_patched = True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until_ready(endpoint_url: str, timeout: float, process: subprocess.Popen[bytes]) -> None:
    """Poll moto's own API until it answers; fail early if the process has died."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with code {process.returncode} during startup")
        try:
            with urllib.request.urlopen(f"{endpoint_url}/moto-api/data.json", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"moto server at {endpoint_url} did not answer within {timeout:.0f} s"
                ) from None
            time.sleep(0.1)


@contextlib.contextmanager
def moto_server(
    *,
    host: str = "127.0.0.1",
    port: Optional[int] = None,
    startup_timeout: float = 30.0,
    python: Optional[str] = None,
) -> Iterator[str]:
    """Run the patched moto server in a subprocess; yield its endpoint URL; stop it afterwards.

    The server's output goes to a temporary log file whose tail is shown if startup fails.

    >>> with moto_server() as url:  # doctest: +SKIP
    ...     url
    'http://127.0.0.1:53117'
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p
    )
    attempts = 1 if port is not None else 3
    last_error: Optional[Exception] = None
    for _ in range(attempts):
        chosen = port if port is not None else free_port(host)
        endpoint_url = f"http://{host}:{chosen}"
        with tempfile.TemporaryFile() as log:
            command: List[str] = [
                python or sys.executable,
                "-m",
                "devtools.moto_server",
                "--host",
                host,
                "--port",
                str(chosen),
            ]
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                try:
                    wait_until_ready(endpoint_url, startup_timeout, process)
                except (RuntimeError, TimeoutError) as exc:
                    log.seek(0)
                    tail = log.read().decode("utf-8", "replace")[-2000:]
                    last_error = RuntimeError(f"{exc}; server output:\n{tail}")
                    continue
                yield endpoint_url
                return
            finally:
                _stop(process)
    raise RuntimeError(f"could not start the moto server: {last_error}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def main(argv: Optional[List[str]] = None) -> None:
    """Command line: ``python -m devtools.moto_server [--host H] [--port N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on (default 5000)")
    args = parser.parse_args(argv)
    apply_patches()
    apply_job_run_patches()
    from moto.server import main as moto_main

    moto_args: Dict[str, str] = {"--host": args.host, "--port": str(args.port)}
    moto_main([item for pair in moto_args.items() for item in pair])


if __name__ == "__main__":
    main()
