#!/usr/bin/env bash
# The real parts the end-to-end tests talk to, on this machine only (loopback):
# a Docker engine with BuildKit, three Distribution registries (open, htpasswd, and Bearer tokens from a token
# service, as ghcr.io and Docker Hub do it), a local Python base image.
#
#   tests/sandbox.sh install        apt packages, once per machine (idempotent)
#   tests/sandbox.sh up DIR         start everything under DIR, print `export ...` lines for the tests
#   tests/sandbox.sh down DIR       stop what `up` started, by pid file
#
# See ../shared/docs/docker-sandbox.md for why each step is needed here (no bridge, no pulls).
set -euo pipefail

BASE_IMAGE=local/python:3.11-bookworm
CACHE=/var/cache/depimage-tests
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
OPEN_PORT=${DEPIMAGE_TEST_REGISTRY_PORT:-$(free_port)}
AUTH_PORT=${DEPIMAGE_TEST_AUTH_REGISTRY_PORT:-$(free_port)}
TOKEN_PORT=$(free_port)
TOKEN_SERVICE_PORT=$(free_port)
AUTH_USER=depimage-ci
AUTH_PASS=ci-secret-password

log() { printf 'sandbox: %s\n' "$*" >&2; }

mirror() { # the Debian mirror this machine's apt sources name (deb822 or one-line form)
  awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 | grep . \
    || sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1
}

install() {
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  command -v docker-registry >/dev/null || need+=(docker-registry)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v htpasswd >/dev/null || need+=(apache2-utils)
  command -v openssl >/dev/null || need+=(openssl)
  command -v skopeo >/dev/null || need+=(skopeo)
  local have_buildx=0
  for d in /usr/libexec/docker/cli-plugins /usr/lib/docker/cli-plugins /usr/local/lib/docker/cli-plugins; do
    [ -x "$d/docker-buildx" ] && have_buildx=1
  done
  if [ ${#need[@]} -eq 0 ] && [ $have_buildx = 1 ]; then log "system packages present"; return; fi
  export DEBIAN_FRONTEND=noninteractive
  if [ ! -f /etc/apt/sources.list.d/trixie.sources ]; then
    local uri
    uri=$(mirror)
    [ -n "$uri" ] || { log "no Debian mirror in this machine's apt sources"; exit 1; }
    cat > /etc/apt/sources.list.d/trixie.sources <<X
Types: deb
URIs: $uri
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
X
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/trixie
  fi
  log "installing ${need[*]:-} docker-buildx"
  apt-get update -qq
  [ ${#need[@]} -eq 0 ] || apt-get install -y -qq "${need[@]}" >/dev/null
  [ $have_buildx = 1 ] || apt-get install -y -qq -t trixie docker-buildx >/dev/null
}

wait_for() { # wait_for SECONDS CMD...
  local n=$(( $1 * 5 )); shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

registry() { # registry NAME PORT [AUTH-SECTION]
  local dir="$D/registry-$1"
  mkdir -p "$dir/data"
  {
    echo "version: 0.1"
    echo "log: {level: warn}"
    echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
    echo "http: {addr: 127.0.0.1:$2}"
    [ -z "${3:-}" ] || echo "auth: $3"
  } > "$dir/config.yml"
  docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
  echo $! > "$dir/pid"
  wait_for 15 curl -s -o /dev/null "http://127.0.0.1:$2/v2/" || { cat "$dir/log" >&2; log "registry $1 did not start"; exit 1; }
}

base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  mkdir -p "$CACHE"
  local tarball="$CACHE/python-3.11-bookworm.tar"
  if [ ! -s "$tarball" ]; then
    log "debootstrap of the Python base image (about a minute, cached in $tarball)"
    local rootfs="$D/rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" \
      "$(mirror)" >"$D/debootstrap.log" 2>&1 \
      || { tail -20 "$D/debootstrap.log" >&2; exit 1; }
    tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  fi
  # The host's CA bundle: downloads here pass a proxy that only this bundle trusts.
  local certs="$D/certs"; mkdir -p "$certs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$certs/etc/ssl/certs/ca-certificates.crt"
  { cat "$tarball"; } | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' - "$BASE_IMAGE.raw" >/dev/null
  printf 'FROM %s\nCOPY etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n' "$BASE_IMAGE.raw" \
    | docker build -q --network=host -t "$BASE_IMAGE" -f - "$certs" >/dev/null
}

token_registry() { # a token service (tests/tokenserver.py) and a registry that trusts its signing certificate
  local dir="$D/registry-tokens"
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=depimage-test-issuer \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  printf '%s:%s\n' "$AUTH_USER" "$AUTH_PASS" > "$dir/users"
  python3 "$(dirname "$0")/tokenserver.py" --port "$TOKEN_SERVICE_PORT" --key "$dir/key.pem" \
    --cert "$dir/cert.pem" --users "$dir/users" --log "$dir/grants.log" > "$dir/log" 2>&1 &
  echo $! > "$dir/pid"
  wait_for 15 curl -s -o /dev/null "http://127.0.0.1:$TOKEN_SERVICE_PORT/token" \
    || { cat "$dir/log" >&2; log "token service did not start"; exit 1; }
  registry token "$TOKEN_PORT" "{token: {realm: 'http://127.0.0.1:$TOKEN_SERVICE_PORT/token', \
service: depimage-test-registry, issuer: depimage-test-issuer, rootcertbundle: $dir/cert.pem}}"
}

up() {
  D=$(cd "$1" && pwd)
  mkdir -p "$D"
  log "dockerd in $D"
  dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=overlay2 \
    --data-root "$D/docker-root" --exec-root "$D/docker-exec" -H "unix://$D/docker.sock" \
    --pidfile "$D/dockerd.pid" > "$D/dockerd.log" 2>&1 &
  export DOCKER_HOST="unix://$D/docker.sock"
  wait_for 60 docker version || { tail -30 "$D/dockerd.log" >&2; log "dockerd did not start"; exit 1; }
  docker buildx version >/dev/null || { log "docker buildx missing: run tests/sandbox.sh install"; exit 1; }
  registry open "$OPEN_PORT"
  htpasswd -Bbc "$D/htpasswd" "$AUTH_USER" "$AUTH_PASS" 2>/dev/null
  registry auth "$AUTH_PORT" "{htpasswd: {realm: depimage-test, path: $D/htpasswd}}"
  token_registry
  base_image
  cat <<X
export DOCKER_HOST=unix://$D/docker.sock
export DEPIMAGE_TEST_SANDBOX=$D
export DEPIMAGE_TEST_REGISTRY=127.0.0.1:$OPEN_PORT
export DEPIMAGE_TEST_AUTH_REGISTRY=127.0.0.1:$AUTH_PORT
export DEPIMAGE_TEST_AUTH_USER=$AUTH_USER
export DEPIMAGE_TEST_AUTH_PASSWORD=$AUTH_PASS
export DEPIMAGE_TEST_TOKEN_REGISTRY=127.0.0.1:$TOKEN_PORT
export DEPIMAGE_TEST_TOKEN_GRANTS=$D/registry-tokens/grants.log
export DEPIMAGE_TEST_BASE_IMAGE=$BASE_IMAGE
X
}

down() {
  D=$1
  for f in "$D"/registry-*/pid "$D/dockerd.pid"; do
    [ -f "$f" ] || continue
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$f"
  done
  # containerd-shim mounts stay behind dockerd under its data root; unmount before removal.
  grep -o " $D/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$D"
}

case "${1:-}" in
  install) install ;;
  up) up "$2" ;;
  down) down "$2" ;;
  *) echo "usage: $0 install | up DIR | down DIR" >&2; exit 2 ;;
esac
