#!/usr/bin/env bash
# Runs check_manifests.py (its first argument) with the system's python3,
# which has python3-yaml; the other arguments go to the script.
#   check_manifests.sh tests/deploy/check_manifests.py --bridge B --dispatcher D [FILE...]
set -uo pipefail
PY=/usr/bin/python3
[[ -x "$PY" ]] || PY=python3
(($# >= 1)) || { echo "FAIL: usage: $0 check_manifests.py ARGS..." >&2; exit 1; }
script="$1"
shift
[[ -f "$script" ]] || { echo "FAIL: cannot find $script" >&2; exit 1; }
exec "$PY" "$script" "$@"
