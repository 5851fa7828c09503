"""What the doctor's checks share: the :class:`DoctorContext` and the "lookup failed" result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from connectors.endpoints import Endpoint
from connectors.errors import AwsRequestError
from connectors.settings import Settings
from diagnostics.aws_reader import AwsReader
from diagnostics.results import FAIL, CheckResult

if TYPE_CHECKING:
    from diagnostics.vpc import AppNetwork


@dataclass
class DoctorContext:
    """What the checks learn along the way and later checks use."""

    settings: Settings
    reader: AwsReader
    role_arn: Optional[str] = None
    secret_arns: Dict[str, str] = field(default_factory=dict)
    endpoints: Dict[str, Endpoint] = field(default_factory=dict)
    app: Optional[AppNetwork] = None
    simulation_error: Optional[str] = None
    applications: Dict[str, Mapping[str, Any]] = field(default_factory=dict)
    vpc_endpoints: List[Mapping[str, Any]] = field(default_factory=list)
    #: Whether ec2:DescribeVpcEndpoints answered (the cost check says nothing on nothing read).
    vpc_endpoints_read: bool = False


def lookup_failed(name: str, error: AwsRequestError, ref: str = "", what: str = "") -> CheckResult:
    """A check whose AWS lookup failed; the fix follows the cause, not a guess about the ids."""
    if error.unreachable:
        fix = (
            f"AWS did not answer the doctor ({error.code}): check this machine's network and "
            "proxy, AWS_ENDPOINT_URL and the region, then run the doctor again; nothing of this "
            "check could be read"
        )
    elif error.denied:
        fix = f"give the caller the {error.action} permission, or run the doctor as a role that has it"
    elif error.code in ("NoCredentialsError", "ExpiredToken", "ExpiredTokenException"):
        fix = error.fix or "configure AWS credentials for the doctor (the default credential chain)"
    elif error.not_found:
        fix = f"check {what or 'the id'} in the settings and the account/region the doctor runs in"
    else:
        fix = (
            error.fix
            or f"{error.action or 'the AWS call'} failed ({error.code}); run the doctor again"
        )
    return CheckResult(name, FAIL, str(error), fix, ref)
