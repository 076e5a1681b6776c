#!/usr/bin/env bash
# The test command: set up what is missing, then lint, type-check and run the whole suite.
# The suite starts its own Mosquitto, InfluxDB and VictoriaMetrics on 127.0.0.1 in temp dirs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export YOLO_OFFLINE=1
echo "[test] ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "[test] mypy"
.venv/bin/mypy
echo "[test] pytest"
.venv/bin/pytest -q "$@"
