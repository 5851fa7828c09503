"""Check a request against the constraints of botocore's service model before sending it.

botocore's own validator checks types, required members and minimum lengths; the service also
enforces the model's ``pattern``, ``max`` (lengths and list/map sizes) and integer ranges, and
answers ValidationException. :func:`constraint_violations` walks the operation's input shape and
reports each violation with the field's path, so the error names what to fix before anything is
sent. Pure (reads the model bundled with botocore, no network).

>>> constraint_violations("emr-serverless", "StartJobRun", {"name": "  "})[0]
"name: '  ' does not match the pattern .*\\\\S.* of the API"
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, List, Mapping, Optional

from connectors.errors import SettingsError


@lru_cache(maxsize=8)
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Optional[re.Pattern[str]]:
    try:
        return re.compile(pattern)
    except re.error:  # a Java-only construct: the service checks it, we cannot
        return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check(shape: Any, value: Any, path: str, problems: List[str]) -> None:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _check(member, value[name], f"{path}.{name}" if path else name, problems)
        return
    if kind == "list" and isinstance(value, (list, tuple)):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} entries, the API allows at most {meta['max']}")
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]", problems)
        return
    if kind == "map" and isinstance(value, Mapping):
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: {len(value)} entries, the API allows at most {meta['max']}")
        for key, item in value.items():
            _check(shape.key, key, f"{path} key {key!r}", problems)
            _check(shape.value, item, f"{path}[{key!r}]", problems)
        return
    if kind == "string" and isinstance(value, str):
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"{path}: {_shown(value)} is shorter than {meta['min']} characters")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(
                f"{path}: {len(value)} characters, the API allows at most {meta['max']}"
            )
        pattern = meta.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and compiled.fullmatch(value) is None:
            problems.append(
                f"{path}: {_shown(value)} does not match the pattern {pattern} of the API"
            )
        return
    if kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        low, high = meta.get("min"), meta.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
            problems.append(f"{path}: {value} is outside the range {span} the API accepts")


def constraint_violations(service: str, operation: str, request: Mapping[str, Any]) -> List[str]:
    """Every violation of the operation's input constraints in ``request``, as ``field: why``."""
    shape = _service_model(service).operation_model(operation).input_shape
    problems: List[str] = []
    _check(shape, request, "", problems)
    return problems


def check_request(service: str, operation: str, request: Mapping[str, Any]) -> None:
    """Raise :class:`SettingsError` naming every field the service would reject."""
    problems = constraint_violations(service, operation, request)
    if problems:
        raise SettingsError(f"{operation} would be rejected by the service: " + "; ".join(problems))
