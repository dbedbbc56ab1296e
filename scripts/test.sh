#!/usr/bin/env bash
# The whole test suite, as on a new machine: venv, project with dev extras,
# the test stores started, pytest + mypy --strict + ruff, the stores stopped
# whatever happened.  Usage: bash scripts/test.sh [pytest args...]
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state=${SAFES3_STATE_DIR:-$root/.teststore}

. scripts/venv.sh

stores=()
stop_all() {
    for s in "${stores[@]}"; do .venv/bin/python "scripts/${s}_store.py" stop --dir "$state/$s" || true; done
}
trap stop_all EXIT INT TERM

SAFES3_TEST_STORES=""
for s in ${SAFES3_STORES:-rgw seaweed}; do
    stores+=("$s")
    .venv/bin/python "scripts/${s}_store.py" start --dir "$state/$s" || exit 1
    SAFES3_TEST_STORES="${SAFES3_TEST_STORES:+$SAFES3_TEST_STORES:}$state/$s/store.json"
done
export SAFES3_TEST_STORES

rc=0
.venv/bin/python -m pytest "$@" || rc=1
# The secure client again as a plain `pip install safes3` runs it: no awscrt.
SAFES3_TEST_WITHOUT_AWSCRT=1 .venv/bin/python -m pytest -q \
    tests/integration/test_client.py tests/integration/test_wire_property.py \
    tests/integration/test_credentials.py tests/integration/test_demo.py || rc=1
.venv/bin/python -m mypy || rc=1
.venv/bin/python -m ruff check . || rc=1
.venv/bin/python -m ruff format --check . || rc=1
exit $rc
