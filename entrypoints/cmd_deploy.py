"""``sparkpg deploy``: upload ``dist/`` to S3 under content-addressed keys.

Every artifact goes to ``<root>/artifacts/<sha256>/<file>``: a new build gets new keys, so it never
overwrites what a running job reads. The deployed manifest (S3 URIs filled in, exact
``sparkSubmitParameters``) is written to ``dist/deployment.json`` and uploaded to
``<root>/manifests/<sha256>.json`` (immutable) and ``<root>/manifests/latest.json`` (a pointer
for ``spark.emr_bundle_uri``; jobs never read it, submissions resolve it to immutable URIs).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from connectors.aws import AWS_ERRORS, aws_error, parse_s3_uri, s3_client
from connectors.errors import BundleError
from entrypoints.errors import EXIT_OK
from submission.bundle import Artifact, BundleManifest, read_built_manifest
from submission.runs import dumps
from submission.s3 import absence

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEPLOYMENT_FILE = "deployment.json"

log = logging.getLogger(__name__)


def register(subcommands: Any) -> None:
    """Add ``sparkpg deploy``."""
    parser = subcommands.add_parser(
        "deploy", help="upload dist/ to S3 under content-addressed keys"
    )
    parser.add_argument("--to", required=True, metavar="S3_URI", help="s3://bucket/prefix")
    parser.add_argument("--dist", default="dist", help="the build directory (default dist)")
    parser.add_argument("--region", help="AWS region (default: the environment's)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument("--json", action="store_true", help="print the deployed manifest as JSON")
    parser.set_defaults(handler=deploy_command)


def deploy_command(args: argparse.Namespace) -> int:
    """Upload and print the S3 URIs, including the value for ``postgres.jdbc_driver_path``."""
    deployed, manifest_uri = deploy(
        Path(args.dist), args.to, s3=s3_client(args.region, args.profile)
    )
    if args.json:
        print(dumps({"manifestUri": manifest_uri, "manifest": _as_dict(deployed)}))
        return EXIT_OK
    print(f"uploaded {args.dist}/ to {deployed.artifact_root}:")
    for name, item in deployed.artifacts.items():
        print(f"  {name:<24} {item.uri}")
    print(f"  {'manifest':<24} {manifest_uri}")
    print("settings:")
    print(f'  "postgres": {{"jdbc_driver_path": "{deployed.jdbc_driver.uri}"}}')
    print(f'  "spark": {{"emr_bundle_uri": "{manifest_uri}"}}')
    print(f"sparkSubmitParameters: {deployed.spark_submit_parameters}")
    return EXIT_OK


def _as_dict(manifest: BundleManifest) -> Dict[str, Any]:
    return manifest.model_dump(mode="json", by_alias=True, exclude_none=True)


def deploy(dist: Path, root: str, *, s3: S3Client) -> tuple[BundleManifest, str]:
    """Upload the bundle in ``dist`` under ``root``; returns the deployed manifest and its URI."""
    bucket, prefix = _split_root(root)
    root = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    manifest = read_built_manifest(dist)
    uploaded: Dict[str, Artifact] = {}
    for name, item in manifest.artifacts.items():
        key = f"{prefix}/{item.key}" if prefix else item.key
        _put_once(s3, bucket, key, dist / item.file, item.sha256)
        uploaded[name] = item.model_copy(update={"uri": f"s3://{bucket}/{key}"})
    entrypoints = {name: uploaded[f"entrypoint:{name}"] for name in sorted(manifest.entrypoints)}
    deployed = manifest.model_copy(
        update={
            "artifact_root": root,
            "code": uploaded["code"],
            "environment": uploaded["environment"],
            "jdbc_driver": uploaded["jdbc_driver"],
            "engine": uploaded.get("engine"),
            "entrypoints": entrypoints,
        }
    )
    deployed = deployed.model_copy(
        update={"spark_submit_parameters": deployed.spark_params().emr_serverless()}
    )
    text = deployed.to_json()
    (dist / DEPLOYMENT_FILE).write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    keys: List[str] = [f"manifests/{digest}.json", "manifests/latest.json"]
    uris: List[str] = []
    for relative in keys:
        key = f"{prefix}/{relative}" if prefix else relative
        _put(s3, bucket, key, text.encode(), content_type="application/json")
        uris.append(f"s3://{bucket}/{key}")
    return deployed, uris[0]


def _split_root(root: str) -> tuple[str, str]:
    if not root.startswith("s3://"):
        raise BundleError(f"--to {root!r}: expected s3://bucket/prefix")
    if "/" not in root[len("s3://") :].strip("/"):
        return root[len("s3://") :].strip("/"), ""
    bucket, prefix = parse_s3_uri(root.rstrip("/"))
    return bucket, prefix.strip("/")


def _put_once(s3: S3Client, bucket: str, key: str, path: Path, sha256: str) -> None:
    """Upload unless the content-addressed key already holds an object of this checksum.

    HeadObject's 403 counts as "missing (or not visible)": a deployer without s3:ListBucket gets
    403 for a missing key (:mod:`submission.s3`); the upload then goes ahead, and a real lack of
    s3:PutObject fails there with its own error.
    """
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        if head.get("Metadata", {}).get("sha256") == sha256:
            return
    except AWS_ERRORS as exc:
        why = absence(exc)
        if why is None:
            raise aws_error(f"HeadObject s3://{bucket}/{key}", exc) from None
        if why == "missing-or-hidden":
            log.warning(
                "HeadObject s3://%s/%s: 403, so missing or not visible (the caller may lack "
                "s3:ListBucket on %s); uploading it",
                bucket,
                key,
                bucket,
            )
    _put(s3, bucket, key, path.read_bytes(), metadata={"sha256": sha256})


def _put(
    s3: S3Client,
    bucket: str,
    key: str,
    body: bytes,
    *,
    metadata: Optional[Dict[str, str]] = None,
    content_type: str = "application/octet-stream",
) -> None:
    try:
        s3.put_object(
            Bucket=bucket, Key=key, Body=body, Metadata=metadata or {}, ContentType=content_type
        )
    except AWS_ERRORS as exc:
        raise aws_error(f"PutObject s3://{bucket}/{key}", exc) from None
