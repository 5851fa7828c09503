#!/usr/bin/env bash
# Build dist/ for EMR Serverless without Docker; see devtools/build_bundle.py and docs/deploy.md.
#
#   ./build.sh                                   # Python 3.9, x86_64 (an emr-7.0.0 application)
#   ./build.sh --arch arm64                      # for an ARM64 application
#   ./build.sh --jar /path/postgresql-42.7.13.jar
#   ./build.sh --upload s3://bucket/prefix       # build, then upload content-addressed
set -euo pipefail
cd "$(dirname "$0")"

if [[ -n "${PYTHON:-}" ]]; then
  py="$PYTHON"
elif [[ -x .venv/bin/python ]]; then
  py=.venv/bin/python
else
  py=python3
fi
if ! "$py" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null; then
  echo "build.sh: error: $py is not Python >= 3.9; create the dev venv (make .venv/.installed) or set PYTHON" >&2
  exit 1
fi
# Everything the build imports (pyspark: the engine JAR compiles against its jars), checked
# before it starts, so a fresh clone gets one line saying what to run instead of a traceback.
missing=$("$py" - 2>/dev/null <<'PY' || echo "a working Python"
import importlib
for name in ("pydantic", "boto3", "pyspark", "devtools.build_bundle", "devtools.build_engine_jar"):
    try:
        importlib.import_module(name)
    except Exception as exc:  # ModuleNotFoundError, or a broken install of it
        print(getattr(exc, "name", None) or name)
        break
PY
)
if [[ -n "$missing" ]]; then
  echo "build.sh: error: $py cannot import $missing, which the build needs; run: make .venv/.installed (or: $py -m pip install -e '.[dev]'), then ./build.sh again" >&2
  exit 1
fi
exec "$py" -m devtools.build_bundle "$@"
