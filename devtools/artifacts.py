"""What the bundle build and the engine JAR build share: the repository's root, the pinned
PostgreSQL JDBC driver and where Maven caches it, and reproducible zip files."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import Iterable, Tuple

REPO_ROOT = Path(__file__).resolve().parent.parent

JDBC_VERSION = "42.7.13"
# sha256 of org.postgresql:postgresql:42.7.13 (the JAR in ~/.m2 here; >= 42.7.12 for CVE fixes).
JDBC_SHA256 = "6e0e4cc2d8cae902084f8a2b18728b073a6fd9d1f87c9d8bff8f298c18185b93"

# 1980-01-01T00:00:00Z: the earliest time a zip entry can carry; also used for tar members.
FIXED_EPOCH = 315532800
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def maven_cache_jar(version: str) -> Path:
    """Where Maven keeps the PostgreSQL JDBC JAR ``version`` in the local repository cache."""
    m2 = Path(os.environ.get("MAVEN_REPO", Path.home() / ".m2" / "repository"))
    return m2 / "org" / "postgresql" / "postgresql" / version / f"postgresql-{version}.jar"


def write_zip(target: Path, entries: Iterable[Tuple[str, bytes]]) -> None:
    """A reproducible zip: sorted names, fixed dates and permissions."""
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            archive.writestr(info, data, compresslevel=9)
