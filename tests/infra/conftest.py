"""Fixtures of the Terraform tests: terraform, an offline provider mirror, a scratch tree.

Without Terraform (or without a local copy of the hashicorp/aws provider) the infra tests skip and
say why; with the environment variable ``CI`` set they fail instead, so CI cannot pass by skipping.

The provider comes from a filesystem mirror (``terraform init`` never reaches the registry when
one is found): ``$SPARKPG_TF_PLUGIN_DIR``, else the first of ``/opt/tf-plugins``,
``~/.terraform.d/plugins``, ``/usr/local/share/terraform/plugins`` and
``/usr/share/terraform/plugins`` that holds ``registry.terraform.io/hashicorp/aws``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import boto3
import pytest

from tests import REPO

TERRAFORM_ROOT = REPO / "infra" / "terraform"
MODULE_DIR = Path("modules") / "sparkpg"
EXAMPLE_DIR = Path("examples") / "complete"

_MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
_COPY_IGNORE = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*")


def skip_or_fail(reason: str) -> None:
    """Skip the test, or fail it when running in CI (env ``CI`` set), where infra tests must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the infra tests may not skip)", pytrace=False)
    pytest.skip(reason)


def find_plugin_mirror() -> Optional[Path]:
    """The local filesystem mirror holding hashicorp/aws, or None."""
    configured = os.environ.get("SPARKPG_TF_PLUGIN_DIR")
    candidates = [configured] if configured else list(_MIRROR_CANDIDATES)
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return path
    return None


class TerraformError(AssertionError):
    """A terraform command failed; the message carries its output."""


@dataclass
class Terraform:
    """Runs terraform with an offline CLI configuration and a clean environment."""

    binary: str
    env: Dict[str, str] = field(default_factory=dict)

    def run(
        self,
        args: Sequence[str],
        cwd: Path,
        *,
        env: Optional[Dict[str, str]] = None,
        ok_codes: Sequence[int] = (0,),
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``terraform <args>`` in ``cwd``; raise TerraformError unless it exits in ok_codes."""
        command: List[str] = [self.binary, *args]
        result = subprocess.run(
            command,
            cwd=cwd,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode not in ok_codes:
            raise TerraformError(
                f"`terraform {' '.join(args)}` in {cwd} exited with {result.returncode}\n"
                f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
            )
        return result

    def init(self, cwd: Path) -> None:
        self.run(["init", "-input=false", "-no-color", "-backend=false"], cwd)


@pytest.fixture(scope="session")
def terraform(tmp_path_factory: pytest.TempPathFactory) -> Terraform:
    """A Terraform runner whose ``init`` installs the AWS provider from the local mirror."""
    binary = shutil.which("terraform")
    if binary is None:
        skip_or_fail("terraform is not on the PATH; install Terraform >= 1.9 for the infra tests")
        raise AssertionError("unreachable")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "TF_")) or key == "AWS_CA_BUNDLE"
    }
    env.update(
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        # No real AWS account can be reached by accident: fake credentials, no profile, no IMDS.
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_EC2_METADATA_DISABLED="true",
    )
    mirror = find_plugin_mirror()
    config = tmp_path_factory.mktemp("terraform-cli") / "terraformrc"
    if mirror is not None:
        config.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n',
            encoding="utf-8",
        )
    elif os.environ.get("CI"):
        config.write_text("", encoding="utf-8")  # CI may fetch the provider from the registry
    else:
        skip_or_fail(
            "no local mirror of the hashicorp/aws provider found "
            f"(looked in {', '.join(_MIRROR_CANDIDATES)}; set SPARKPG_TF_PLUGIN_DIR)"
        )
    env["TF_CLI_CONFIG_FILE"] = str(config)
    return Terraform(binary=binary, env=env)


@pytest.fixture(scope="session")
def terraform_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A scratch copy of infra/terraform, so init and state never touch the working tree."""
    root = tmp_path_factory.mktemp("terraform-tree") / "terraform"
    shutil.copytree(TERRAFORM_ROOT, root, ignore=_COPY_IGNORE)
    yield root


@pytest.fixture(scope="session")
def bundle_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``./build.sh`` output (the job bundle ``sparkpg deploy`` uploads), built once per session."""
    from devtools.build_bundle import build

    out = tmp_path_factory.mktemp("bundle-dist")
    build(out, log=False)
    return out


# --- roots of the module on a moto server (test_moto_existing_role, test_moto_note_account) -----

#: The provider of a root that applies the module to a moto server (AWS_ENDPOINT_URL in the env).
MOTO_ROOT_HEADER = """\
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "execution_role_arn" {
  type = string
}

variable "jdbc_jar_source" {
  type = string
}
"""


def write_moto_root(workdir: Path, module_call: str) -> Path:
    """``workdir``: the module (as ``./sparkpg``), a root of MOTO_ROOT_HEADER + ``module_call``,
    and a stand-in JDBC JAR; returns the JAR's path."""
    shutil.copytree(
        TERRAFORM_ROOT / MODULE_DIR,
        workdir / "sparkpg",
        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "tests"),
    )
    (workdir / "main.tf").write_text(MOTO_ROOT_HEADER + "\n" + module_call, encoding="utf-8")
    jar = workdir / "postgresql-42.7.13.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    return jar


@dataclass
class MotoRoot:
    """A Terraform root applied to a moto server: boto3 clients on it and ``terraform`` in it."""

    terraform: Terraform
    workdir: Path
    env: Dict[str, str]
    endpoint_url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def tf(self, *args: str, ok_codes: tuple = (0,)) -> Any:
        return self.terraform.run(list(args), self.workdir, env=self.env, ok_codes=ok_codes)
