#!/usr/bin/env bash
# The main job: set up what is missing, then run the whole pipeline on simulators
# (sensor fleet -> Mosquitto -> ingest -> InfluxDB, and a drone inspection flight).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export YOLO_OFFLINE=1
exec .venv/bin/michimori demo "$@"
