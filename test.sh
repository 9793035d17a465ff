#!/usr/bin/env bash
# Run MedAssist's tests: creates .venv and installs the packages if needed, then runs pytest.
# Extra arguments go to pytest:  ./test.sh -k engine
set -euo pipefail
cd "$(dirname "$0")"
./start.sh --setup-only --dev
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
