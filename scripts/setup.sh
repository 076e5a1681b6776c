#!/usr/bin/env bash
# Install what a fresh Debian/Ubuntu machine is missing for Michimori: Debian's mosquitto,
# influxdb and victoria-metrics (the stand-in for InfluxDB 2.x's /api/v2/write in tests), and
# a virtual environment at .venv with michimori and its extras. Safe to run again: it only
# installs what is missing. Services are NOT started here: `michimori services up`, the demo
# and the test harness start their own instances on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }

need=()
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)
command -v victoria-metrics >/dev/null 2>&1 || need+=(victoria-metrics)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  log "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  # policy-rc.d / no systemd: Debian may not start its own services; we never use them.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
fi

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "[setup] Python >= 3.11 is required (found $(python3 --version))" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
# Reinstall only when the dependency list changed.
stamp=.venv/.michimori-deps
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python packages into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[all,dev]"
  echo "$want" > "$stamp"
fi
log "ready: $(.venv/bin/michimori --version)"
