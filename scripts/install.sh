#!/usr/bin/env bash
# Install the detector as a wheel into a virtualenv: the steps the Dockerfile runs, and the
# ones tests/test_packaging.py runs.
#   scripts/install.sh VENV [EXTRAS]      e.g. scripts/install.sh /opt/s3-detector ray
# DETECTOR_DEPS_FROM=SITE_PACKAGES (tests): take the dependencies from that folder instead of
# downloading them; the wheel itself is built and installed the same way.
set -euo pipefail
VENV=${1:?usage: scripts/install.sh VENV [EXTRAS]}
EXTRAS=${2:-}
PYTHON=${PYTHON:-python3}
cd "$(dirname "$0")/.."
DIST=$(mktemp -d)
trap 'rm -rf "$DIST"' EXIT
if [ -n "${DETECTOR_DEPS_FROM:-}" ]; then
    "$PYTHON" -m pip wheel . --no-deps --no-build-isolation -q -w "$DIST"
    "$PYTHON" -m venv --without-pip "$VENV"
    SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$DETECTOR_DEPS_FROM" >"$SITE/detector-deps.pth"
    # --ignore-installed: the borrowed folder may hold an editable install of the same version
    "$PYTHON" -m pip --python "$VENV/bin/python" install -q --no-deps --ignore-installed \
        "$DIST"/*.whl
else
    "$PYTHON" -m pip wheel . --no-deps -q -w "$DIST"
    "$PYTHON" -m venv "$VENV"
    WHEEL=$(ls "$DIST"/*.whl)
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q "$WHEEL${EXTRAS:+[$EXTRAS]}"
fi
"$VENV/bin/detector" --version
