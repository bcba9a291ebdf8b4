#!/usr/bin/env bash
# s3-server.sh — a real S3 server (versitygw, POSIX backend) on loopback for
# weir's s3:// tests and benchmarks. No mocks: this is the S3 API over HTTP.
#
#   scripts/s3-server.sh start STATE_DIR [PORT]   start (PORT: reuse a port, e.g. after a kill)
#   scripts/s3-server.sh stop STATE_DIR           stop the server started there
#   scripts/s3-server.sh install                  only install versitygw
#
# start installs versitygw (pinned) with `go install` into a cache outside
# the clone: ${WEIR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir}/go/bin
# (GOPATH and GOMODCACHE there too), serves STATE_DIR/data on
# 127.0.0.1:PORT (a free port unless given) with root credentials, waits
# until it answers, creates the bucket (WEIR_S3_BUCKET, default weir-test),
# and writes STATE_DIR/env, a file of `export` lines to source:
#   WEIR_S3_ENDPOINT WEIR_S3_BUCKET AWS_ENDPOINT_URL(_S3) AWS_ACCESS_KEY_ID
#   AWS_SECRET_ACCESS_KEY AWS_REGION AWS_S3_ADDRESSING_STYLE
#   WEIR_S3_SERVER_PID WEIR_S3_STATE_DIR WEIR_S3_SERVER_SCRIPT
# With WEIR_S3_TLS=1 it serves HTTPS with a self-signed certificate and the
# env file also sets AWS_CA_BUNDLE to it. WEIR_S3_BIND=0.0.0.0 serves on
# every address (for pods on a node's bridge); the env file still names
# 127.0.0.1. The log is STATE_DIR/server.log. A second start on the same STATE_DIR
# keeps the stored objects (the data directory is reused).
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
cache="${WEIR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir}"
gobin="$cache/go/bin"
vgw="$gobin/versitygw"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "s3-server: $*" >&2; exit 1; }

install_vgw() {
  if [ -x "$vgw" ] && [ "$(cat "$gobin/.versitygw-version" 2>/dev/null)" = "$VERSITYGW_VERSION" ]; then
    return 0
  fi
  command -v go >/dev/null || die "needs Go to install versitygw (https://go.dev/dl/); or put a versitygw $VERSITYGW_VERSION binary at $vgw"
  mkdir -p "$gobin"
  echo "s3-server: installing versitygw $VERSITYGW_VERSION into $gobin (once)" >&2
  GOPATH="$cache/go" GOMODCACHE="$cache/go/pkg/mod" GOBIN="$gobin" GOFLAGS=-modcacherw \
    go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2 \
    || die "go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION failed; check network access to the Go module proxy"
  echo "$VERSITYGW_VERSION" > "$gobin/.versitygw-version"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Signs nothing: a plain TCP probe until the port accepts connections.
wait_port() {
  local port=$1 pid=$2 i
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}

start() {
  local state=${1:?usage: s3-server.sh start STATE_DIR [PORT]} port=${2:-}
  local bucket=${WEIR_S3_BUCKET:-weir-test}
  local access=${WEIR_S3_ROOT_ACCESS:-weirroot} secret=${WEIR_S3_ROOT_SECRET:-weirroot-secret-key-0123456789}
  install_vgw
  mkdir -p "$state/data"
  state="$(cd "$state" && pwd)"
  [ -n "$port" ] || port=$(free_port)
  local scheme=http tls=() cacert=()
  if [ "${WEIR_S3_TLS:-0}" = 1 ]; then
    # HTTPS with a self-signed certificate for 127.0.0.1 and localhost;
    # clients trust it through AWS_CA_BUNDLE (written to the env file)
    mkdir -p "$state/tls"
    if [ ! -f "$state/tls/cert.pem" ]; then
      openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=weir-s3-test" \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:*.localhost" \
        -keyout "$state/tls/key.pem" -out "$state/tls/cert.pem" >/dev/null 2>&1 \
        || die "openssl could not make a test certificate"
    fi
    scheme=https
    tls=(--cert "$state/tls/cert.pem" --key "$state/tls/key.pem")
    cacert=(--cacert "$state/tls/cert.pem")
  fi
  # --virtual-domain: BUCKET.localhost:PORT works for virtual-hosted-style
  # requests (curl resolves *.localhost to loopback); path style works too.
  # (--nometa would drop ETags; the data dir needs extended attributes.)
  ROOT_ACCESS_KEY_ID="$access" ROOT_SECRET_ACCESS_KEY="$secret" \
    setsid "$vgw" --port "${WEIR_S3_BIND:-127.0.0.1}:$port" --region us-east-1 --quiet --keep-alive \
    --virtual-domain localhost "${tls[@]}" \
    posix "$state/data" >"$state/server.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$state/pid"
  if ! wait_port "$port" "$pid"; then
    tail -20 "$state/server.log" >&2 || true
    die "versitygw did not start on 127.0.0.1:$port (log: $state/server.log)"
  fi
  # the bucket, over the S3 API itself (curl signs with SigV4)
  local ep="$scheme://127.0.0.1:$port" code
  # (curl 7.88 does not send x-amz-content-sha256 itself; it signs ours)
  code=$(curl -s -o "$state/mkbucket.out" -w '%{http_code}' -X PUT \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "${cacert[@]}" --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" "$ep/$bucket")
  case "$code" in
    200|409) ;;
    *) cat "$state/mkbucket.out" >&2; die "creating bucket $bucket failed: HTTP $code" ;;
  esac
  cat > "$state/env" <<EOF
export WEIR_S3_ENDPOINT=$ep
export WEIR_S3_BUCKET=$bucket
export AWS_ENDPOINT_URL=$ep
export AWS_ENDPOINT_URL_S3=$ep
export AWS_ACCESS_KEY_ID=$access
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=us-east-1
export AWS_S3_ADDRESSING_STYLE=path
export WEIR_S3_SERVER_PID=$pid
export WEIR_S3_STATE_DIR=$state
export WEIR_S3_SERVER_SCRIPT=$here/s3-server.sh
unset AWS_SESSION_TOKEN AWS_PROFILE
EOF
  if [ "$scheme" = https ]; then echo "export AWS_CA_BUNDLE=$state/tls/cert.pem" >> "$state/env"; fi
  echo "s3-server: versitygw $VERSITYGW_VERSION pid $pid at $ep, bucket $bucket; source $state/env" >&2
  echo "$state/env"
}

stop() {
  local state=${1:?usage: s3-server.sh stop STATE_DIR} pid i
  [ -f "$state/pid" ] || return 0
  pid=$(cat "$state/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$state/pid"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  install) install_vgw ;;
  *) echo "usage: $0 start STATE_DIR [PORT] | stop STATE_DIR | install" >&2; exit 2 ;;
esac
