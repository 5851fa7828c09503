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
if ! "$py" -c 'import pydantic, boto3' 2>/dev/null; then
  echo "build.sh: error: $py lacks the project's dependencies; run: $py -m pip install -e '.[dev]'" >&2
  exit 1
fi
exec "$py" -m devtools.build_bundle "$@"
