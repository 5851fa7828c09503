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


def lookup_failed(name: str, error: AwsRequestError, ref: str = "", what: str = "") -> CheckResult:
    fix = (
        f"give the caller the {error.action} permission, or run the doctor as a role that has it"
        if error.denied
        else f"check {what or 'the id'} in the settings and the account/region the doctor runs in"
    )
    return CheckResult(name, FAIL, str(error), fix, ref)
