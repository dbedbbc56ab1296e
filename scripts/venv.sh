# Sourced by test.sh and demo.sh: a project venv with safes3 and its dev extras.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3-pip
fi
[ -x .venv/bin/python ] || python3 -m venv .venv || exit 1
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' \
    2> >(grep -v '^WARNING: Location' >&2) || exit 1
