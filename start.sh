#!/usr/bin/env bash
# MedAssist — double-click (or run) to start. First run: creates .venv, installs the packages and the
# bundled model, then the app builds the model (progress shown in the page and here). Later runs start
# in seconds. Options are passed to the app: ./start.sh --language zh --port 7861
#   ./start.sh --setup-only [--dev]     install only (--dev adds the test tools)
#   ./start.sh --install-desktop        add a MedAssist entry to the Linux applications menu
set -euo pipefail
cd "$(dirname "$0")"

setup() {  # setup EXTRAS (model | dev): the medassist package, editable, with its pinned requirements
  local py="${PYTHON:-}"
  if [ -z "$py" ]; then py=$(command -v python3.11 || command -v python3 || true); fi
  [ -n "$py" ] || { echo "MedAssist needs Python 3.11: install it from python.org, then run this again." >&2; exit 1; }
  if [ ! -x .venv/bin/python ]; then
    echo "Creating the virtual environment (.venv) ..."
    "$py" -m venv .venv
  fi
  local stamp=".venv/.installed-$(cat requirements*.txt constraints.txt pyproject.toml | sha256sum | cut -c1-16)-$1"
  if [ ! -f "$stamp" ]; then
    echo "Installing packages (first run: several minutes) ..."
    .venv/bin/python -m pip install --disable-pip-version-check -q -c constraints.txt -e ".[$1]"
    touch "$stamp"
  fi
}

case "${1:-}" in
  --setup-only)
    if [ "${2:-}" = "--dev" ]; then setup dev; else setup model; fi
    exit 0 ;;
  --install-desktop)
    dir="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
    mkdir -p "$dir"
    sed "s|@ROOT@|$(pwd)|g" assets/medassist.desktop > "$dir/medassist.desktop"
    chmod +x "$dir/medassist.desktop"
    echo "Added $dir/medassist.desktop"
    exit 0 ;;
esac

setup model
exec .venv/bin/medassist "$@"
