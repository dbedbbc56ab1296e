#!/usr/bin/env bash
# The main job on the embedded local default: start the local Ceph RGW test
# store over HTTPS (private CA made at start), show what safes3 enforces
# against it, stop the store whatever happened.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state=${SAFES3_STATE_DIR:-$root/.teststore}/demo
. scripts/venv.sh
trap '.venv/bin/python scripts/rgw_store.py stop --dir "$state"' EXIT INT TERM
.venv/bin/python scripts/rgw_store.py start --dir "$state" || exit 1
.venv/bin/python -m safes3 demo --store-json "$state/store.json"
