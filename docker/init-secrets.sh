#!/usr/bin/env bash
# Makes and manages the credentials of the docker/ deployment, as files under docker/secrets/
# that compose hands to the containers (docker/README.md explains each one).
#
#   ./init-secrets.sh [init]                create every missing secret; never overwrites one
#   ./init-secrets.sh self-signed-tls HOST  make a private CA and the broker's TLS certificate
#   ./init-secrets.sh add-device ID         give a field device its own MQTT login
#   ./init-secrets.sh remove-device ID      take a field device's MQTT login away
#   ./init-secrets.sh scoped-tokens         give the ingest and Grafana least-privilege InfluxDB
#                                           tokens (InfluxDB must be running)
#   ./init-secrets.sh status                list which secrets exist
#
# Passwords never appear on a command line: they travel through files and pipes only.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SECRETS=${MICHIMORI_SECRETS_DIR:-$HERE/secrets}
# Same image as the mosquitto service in compose.yaml; used only when this host has no
# mosquitto_passwd of its own.
MOSQUITTO_IMAGE=eclipse-mosquitto:2.0
INFLUX_ORG=michimori
INFLUX_BUCKET=michimori
# Service logins in the password file; a device may not take these names.
RESERVED_USERS="ingest operator"
# The wire contract's id charset: never '+', '#' or '/', so pattern ACLs stay sound.
ID_RE='^[a-z0-9][a-z0-9-]{0,63}$'

ALL_SECRETS="mosquitto_passwd mqtt_tls_cert mqtt_tls_key mqtt_ingest_password
  mqtt_operator_password influx_admin_password influx_admin_token influx_ingest_token
  influx_grafana_token grafana_admin_password"

TMPFILES=()
cleanup() { if [ ${#TMPFILES[@]} -gt 0 ]; then rm -f "${TMPFILES[@]}"; fi; }
trap cleanup EXIT

die() { echo "init-secrets: error: $*" >&2; exit 1; }
note() { echo "init-secrets: $*" >&2; }

# 192 random bits as hex: no character that TOML, URLs or shells would need to escape.
random_secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# The uid each container runs as, so each secret can belong to the one user that reads it.
owner_of() {
  case "$1" in
    mosquitto_passwd | mqtt_tls_cert | mqtt_tls_key) echo 1883 ;;       # eclipse-mosquitto
    mqtt_ingest_password | influx_ingest_token) echo 10001 ;;           # ingest.Dockerfile
    influx_admin_password | influx_admin_token) echo 1000 ;;            # influxdb:2.7
    grafana_admin_password | influx_grafana_token) echo 472 ;;          # grafana
    *) echo 0 ;;                                                        # people, not containers
  esac
}

protect() {
  local path=$SECRETS/$1 uid
  uid=$(owner_of "$1")
  if [ "$(id -u)" -eq 0 ]; then
    chown "$uid:$uid" "$path"
    chmod 0600 "$path"
  else
    # Without root the file cannot be given to the container's user, so it must be readable
    # by all; the 0700 secrets folder still keeps other users of this host out.
    chmod 0644 "$path"
  fi
}

# Write stdin into a secret without replacing the file: a running container's bind mount
# keeps pointing at the old file if it is replaced, so the change would never reach it.
write_in_place() {
  local path=$SECRETS/$1
  if [ -e "$path" ]; then
    cat >"$path"
  else
    (umask 077 && cat >"$path")
  fi
  protect "$1"
}

new_secret() {
  if [ -e "$SECRETS/$1" ]; then
    return 0
  fi
  random_secret | write_in_place "$1"
  note "created secrets/$1"
}

# stdin: "user:password" lines; stdout: the same logins hashed for mosquitto's password_file.
# A subshell with its own EXIT trap, so the plaintext file goes even if hashing fails.
hash_logins() (
  tmp=$(mktemp "$SECRETS/.plain.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  cat >"$tmp"
  # awk 1: mosquitto_passwd leaves the last line without a newline; an append must not join it.
  if command -v mosquitto_passwd >/dev/null 2>&1; then
    mosquitto_passwd -U "$tmp" >&2
    cat "$tmp"
  else
    docker run --rm -i --network none --entrypoint /bin/sh "$MOSQUITTO_IMAGE" \
      -c 'umask 077 && cat >/tmp/p && mosquitto_passwd -U /tmp/p >&2 && cat /tmp/p' <"$tmp"
  fi | awk 1
)

compose() { docker compose -f "$HERE/compose.yaml" "$@"; }

reload_broker() {
  # Mosquitto re-reads its password and ACL files on SIGHUP.
  if compose kill -s SIGHUP mosquitto >/dev/null 2>&1; then
    note "the broker re-read its password file"
  else
    note "the broker is not running; it reads the password file when it starts"
  fi
}

check_id() {
  [[ $1 =~ $ID_RE ]] || die "device id '$1' is not 1-64 characters of a-z, 0-9 and '-'"
  case " $RESERVED_USERS " in
    *" $1 "*) die "'$1' is a service login, not a device id" ;;
  esac
}

cmd_init() {
  mkdir -p "$SECRETS"
  chmod 0700 "$SECRETS"
  local name
  for name in mqtt_ingest_password mqtt_operator_password influx_admin_password \
    influx_admin_token grafana_admin_password; do
    new_secret "$name"
  done
  # InfluxDB cannot be told the value of a new token in advance, it only hands them out once
  # it runs; until `scoped-tokens` does that, the ingest and Grafana use the admin token.
  for name in influx_ingest_token influx_grafana_token; do
    if [ ! -e "$SECRETS/$name" ]; then
      write_in_place "$name" <"$SECRETS/influx_admin_token"
      note "secrets/$name is the admin token for now: run '$0 scoped-tokens' once InfluxDB is up"
    fi
  done
  if [ ! -e "$SECRETS/mosquitto_passwd" ]; then
    {
      printf 'ingest:%s\n' "$(cat "$SECRETS/mqtt_ingest_password")"
      printf 'operator:%s\n' "$(cat "$SECRETS/mqtt_operator_password")"
    } | hash_logins | write_in_place mosquitto_passwd
    note "created secrets/mosquitto_passwd with the logins 'ingest' and 'operator'"
  fi
  if [ ! -e "$SECRETS/mqtt_tls_cert" ] || [ ! -e "$SECRETS/mqtt_tls_key" ]; then
    note "no TLS certificate for the broker yet: put its certificate chain and key in"
    note "  secrets/mqtt_tls_cert and secrets/mqtt_tls_key, or run: $0 self-signed-tls HOST"
  fi
  cmd_status || true
}

cmd_self_signed_tls() {
  local host=${1:-} san tmpdir
  [ -n "$host" ] || die "usage: $0 self-signed-tls HOST (the name or address devices connect to)"
  [ ! -e "$SECRETS/mqtt_tls_cert" ] || die "secrets/mqtt_tls_cert exists; remove it first"
  mkdir -p "$SECRETS"
  chmod 0700 "$SECRETS"
  if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then san="IP:$host"; else san="DNS:$host"; fi
  tmpdir=$(mktemp -d "$SECRETS/.tls.XXXXXX")
  TMPFILES+=("$tmpdir/csr" "$tmpdir/ext" "$tmpdir/key" "$tmpdir/cert")
  (
    umask 077
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
      -days 3650 -subj "/CN=Michimori private CA" \
      -keyout "$SECRETS/tls_ca.key" -out "$SECRETS/mqtt_tls_ca.pem" 2>/dev/null
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 \
      -subj "/CN=$host" -keyout "$tmpdir/key" -out "$tmpdir/csr" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" >"$tmpdir/ext"
    openssl x509 -req -sha256 -days 825 -in "$tmpdir/csr" -CA "$SECRETS/mqtt_tls_ca.pem" \
      -CAkey "$SECRETS/tls_ca.key" -CAcreateserial -CAserial "$SECRETS/tls_ca.srl" \
      -extfile "$tmpdir/ext" -out "$tmpdir/cert" 2>/dev/null
  )
  write_in_place mqtt_tls_cert <"$tmpdir/cert"
  write_in_place mqtt_tls_key <"$tmpdir/key"
  chmod 0644 "$SECRETS/mqtt_tls_ca.pem"
  rm -rf "$tmpdir"
  note "broker certificate for $san, valid 825 days, signed by a new private CA."
  note "copy secrets/mqtt_tls_ca.pem to every device as /etc/michimori/ca.pem;"
  note "move secrets/tls_ca.key off this server (it is only needed to sign the next certificate)."
}

cmd_add_device() {
  local id=${1:-} pw
  [ -n "$id" ] || die "usage: $0 add-device ID"
  check_id "$id"
  [ -e "$SECRETS/mosquitto_passwd" ] || die "secrets/mosquitto_passwd is missing: run $0 init"
  if grep -q "^$id:" "$SECRETS/mosquitto_passwd"; then
    die "device '$id' already has a login (remove-device it first to give it a new password)"
  fi
  pw=$(random_secret)
  # Appending keeps the file (and so the running broker's bind mount) in place.
  printf '%s:%s\n' "$id" "$pw" | hash_logins >>"$SECRETS/mosquitto_passwd"
  mkdir -p "$SECRETS/devices"
  chmod 0700 "$SECRETS/devices"
  (umask 077 && printf '%s' "$pw" >"$SECRETS/devices/$id.password")
  reload_broker
  note "device '$id' may now log in. Copy secrets/devices/$id.password to the device as"
  note "  /etc/michimori/edge.password (root:michimori, mode 0640), then delete it here."
}

cmd_remove_device() {
  local id=${1:-} tmp
  [ -n "$id" ] || die "usage: $0 remove-device ID"
  check_id "$id"
  grep -q "^$id:" "$SECRETS/mosquitto_passwd" || die "device '$id' has no login"
  tmp=$(mktemp "$SECRETS/.passwd.XXXXXX")
  TMPFILES+=("$tmp")
  grep -v "^$id:" "$SECRETS/mosquitto_passwd" >"$tmp" || true
  write_in_place mosquitto_passwd <"$tmp"
  rm -f "$tmp" "$SECRETS/devices/$id.password"
  reload_broker
  note "device '$id' can no longer log in. A connection it holds now ends at the next"
  note "  broker restart: docker compose restart mosquitto"
}

token_from_json() { sed -n 's/^[[:space:]]*"token":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1; }

cmd_scoped_tokens() {
  local bucket_id ingest grafana
  # The admin token reaches the influx CLI through the environment, not the command line.
  INFLUX_TOKEN=$(cat "$SECRETS/influx_admin_token")
  export INFLUX_TOKEN
  bucket_id=$(compose exec -T -e INFLUX_TOKEN influxdb influx bucket list \
    --org "$INFLUX_ORG" --name "$INFLUX_BUCKET" --hide-headers | awk 'NR == 1 { print $1 }')
  [ -n "$bucket_id" ] || die "bucket '$INFLUX_BUCKET' not found: is the influxdb service up?"
  # The ingest writes, and may read back its own bucket (nothing else); Grafana only reads.
  ingest=$(compose exec -T -e INFLUX_TOKEN influxdb influx auth create --org "$INFLUX_ORG" \
    --description "michimori ingest" --write-bucket "$bucket_id" --read-bucket "$bucket_id" \
    --json | token_from_json)
  grafana=$(compose exec -T -e INFLUX_TOKEN influxdb influx auth create --org "$INFLUX_ORG" \
    --description "michimori grafana (read only)" --read-bucket "$bucket_id" \
    --json | token_from_json)
  if [ -z "$ingest" ] || [ -z "$grafana" ]; then
    die "influx auth create returned no token"
  fi
  printf '%s' "$ingest" | write_in_place influx_ingest_token
  printf '%s' "$grafana" | write_in_place influx_grafana_token
  compose restart ingest grafana
  note "the ingest and Grafana now use tokens limited to the bucket '$INFLUX_BUCKET'"
}

cmd_status() {
  local name missing=0
  for name in $ALL_SECRETS; do
    if [ -e "$SECRETS/$name" ]; then
      echo "present  secrets/$name"
    else
      echo "MISSING  secrets/$name"
      missing=1
    fi
  done
  return "$missing"
}

case "${1:-init}" in
  init) cmd_init ;;
  self-signed-tls) cmd_self_signed_tls "${2:-}" ;;
  add-device) cmd_add_device "${2:-}" ;;
  remove-device) cmd_remove_device "${2:-}" ;;
  scoped-tokens) cmd_scoped_tokens ;;
  status) cmd_status ;;
  -h | --help | help) sed -n '2,13p' "$0" ;;
  *) die "unknown command '$1' (try --help)" ;;
esac
