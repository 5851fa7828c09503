"""Where settings come from before they are validated: the file's text (local or S3) and the
``SPARKPG__...`` environment overrides, as plain JSON data. :func:`connectors.settings.load_settings`
validates the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping

from connectors.errors import SettingsError, SettingsSourceError

ENV_PREFIX = "SPARKPG__"
_ENV_DELIMITER = "__"


def read_source(source: str) -> str:
    """The text of a settings file: a local path or ``s3://bucket/key``."""
    if source.startswith("s3://"):
        # boto3 only here: parsing local settings needs no AWS.
        from connectors.aws import AWS_ERRORS, aws_error, parse_s3_uri, s3_client

        try:
            bucket, key = parse_s3_uri(source)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        try:
            body = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        except AWS_ERRORS as exc:
            raise aws_error(
                f"cannot read settings from {source}",
                exc,
                fixes={"AccessDenied": "check the URI and that the caller may s3:GetObject on it"},
                default=SettingsSourceError,
            ) from None
        return str(body.decode("utf-8"))
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(
            f"settings file not found: {path} (give a local path or an s3:// URI)"
        ) from None
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None


def apply_env_overrides(
    data: Dict[str, Any], environ: Mapping[str, str], source: str
) -> Dict[str, Any]:
    """``data`` with every ``SPARKPG__<PATH>`` variable of ``environ`` set at its path (values
    parsed as JSON when they are); ``POSTGRES__CONNECTIONS__<NAME>__<FIELD>`` names a connection."""
    result = json.loads(json.dumps(data))  # a deep copy of plain JSON data
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split(_ENV_DELIMITER)]
        if not all(path):
            raise SettingsError(f"environment variable {name}: empty path segment")
        _set_path(result, path, _parse_env_value(environ[name]), name, source)
    return result


def _parse_env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _set_path(data: Dict[str, Any], path: List[str], value: Any, var: str, source: str) -> None:
    node: Dict[str, Any] = data
    if path[:2] == ["postgres", "connections"]:
        node = _connection_node(data.setdefault("postgres", {}), path, var, source)
        path = path[3:]
    for depth, key in enumerate(path[:-1]):
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise SettingsError(
                f"environment variable {var}: {'.'.join(path[: depth + 1])} is not an object"
            )
    node[path[-1]] = value


def _connection_node(
    postgres: Dict[str, Any], path: List[str], var: str, source: str
) -> Dict[str, Any]:
    if len(path) < 4:
        raise SettingsError(
            f"environment variable {var}: expected "
            f"{ENV_PREFIX}POSTGRES__CONNECTIONS__<NAME>__<FIELD>"
        )
    name = path[2]
    connections = postgres.setdefault("connections", [])
    for connection in connections:
        if str(connection.get("name", "")).lower() == name:
            return connection
    names = ", ".join(str(c.get("name")) for c in connections) or "(none)"
    raise SettingsError(
        f"environment variable {var} names connection {name!r}, which {source} does not define; "
        f"connections: {names}"
    )


def deep_merge(base: Dict[str, Any], extra: Dict[str, Any]) -> Dict[str, Any]:
    """``base`` with ``extra`` merged in, objects key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
