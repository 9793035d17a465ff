#!/usr/bin/env bash
# macOS: double-click in Finder to start MedAssist (first run sets everything up).
cd "$(dirname "$0")" && exec ./start.sh "$@"
