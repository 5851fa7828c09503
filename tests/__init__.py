"""sparkpg's tests; :data:`REPO` is the repository's root, from which tests name the project's
files."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
