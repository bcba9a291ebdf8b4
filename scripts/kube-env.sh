#!/usr/bin/env bash
# kube-env.sh — a real Kubernetes control plane for weir's tests: etcd (Debian's
# etcd-server) and kube-apiserver (plus kube-controller-manager when built),
# all on 127.0.0.1 with free ports. No node: enough for lib/kube and the
# CRD and chart tests; scripts/kube-node.sh adds a real kubelet (built here
# too) for pods that really run.
#
#   scripts/kube-env.sh build       build the Kubernetes binaries into the cache
#                                   (reused when present) and print their dir
#   scripts/kube-env.sh start DIR   start etcd + apiserver [+ controller-manager],
#                                   write DIR/kubeconfig, wait for /readyz
#   scripts/kube-env.sh stop DIR    stop what `start DIR` started
#
# The binaries are built from e2e/kube (a Go module that requires
# k8s.io/kubernetes at a pinned release) into
#   ${WEIR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir}/kube/<version>/bin
# with GOPATH, GOMODCACHE and GOCACHE under that cache too, never in the clone.
#
# DIR/kubeconfig has contexts "admin" (current; client certificate in group
# system:masters) and "limited" (static bearer token of user "weir-limited",
# no RBAC bindings), so tests can see both an allowed and a forbidden call.
set -euo pipefail

K8S_VERSION=v1.32.5
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache_root=${WEIR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir}
kcache=$cache_root/kube/$K8S_VERSION
bindir=$kcache/bin

log() { echo "kube-env: $*" >&2; }
die() { echo "kube-env: error: $*" >&2; exit 1; }

have_bins() { [ -x "$bindir/kube-apiserver" ]; }
have_all() {
  have_bins && [ -x "$bindir/kube-controller-manager" ] && [ -x "$bindir/kube-scheduler" ] &&
    [ -x "$bindir/kubectl" ] && [ -x "$bindir/kubelet" ]
}

# build [all]: kube-apiserver first, installed as soon as it is linked; the
# controller-manager, scheduler, kubectl (for the scripts that drive the
# cluster, when the machine has none) and kubelet (scripts/kube-node.sh)
# follow (start uses the controller-manager
# when present). Concurrent builds wait on a lock.
cmd_build() {
  if have_all; then
    echo "$bindir"
    return 0
  fi
  command -v go >/dev/null || die "go is not installed; it is needed to build kube-apiserver $K8S_VERSION"
  mkdir -p "$kcache/src" "$bindir" "$cache_root/go/path" "$cache_root/go/mod" "$cache_root/go/build"
  exec 9>"$kcache/build.lock"
  flock 9
  export GOPATH=$cache_root/go/path GOMODCACHE=$cache_root/go/mod GOCACHE=$cache_root/go/build
  export GOTOOLCHAIN=local CGO_ENABLED=0
  export GOFLAGS="-mod=mod -modcacherw" # a cache that rm -rf can remove
  cp "$repo/e2e/kube/go.mod" "$repo/e2e/kube/tools.go" "$kcache/src/"
  [ -f "$repo/e2e/kube/go.sum" ] && cp "$repo/e2e/kube/go.sum" "$kcache/src/"
  cd "$kcache/src"
  local t0 ldf pkg c v=${K8S_VERSION#v}
  t0=$(date +%s)
  log "go mod tidy (k8s.io/kubernetes $K8S_VERSION)"
  go mod tidy >&2
  ldf="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=${v%%.*}"
    ldf="$ldf -X $pkg.gitMinor=$(echo "$v" | cut -d. -f2) -X $pkg.gitTreeState=clean"
    ldf="$ldf -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet; do
    [ -x "$bindir/$c" ] && continue
    log "go build $c ($(nproc) cores; this takes a while the first time)"
    go build -trimpath -ldflags "$ldf" -o "$bindir/.$c.tmp" "k8s.io/kubernetes/cmd/$c" >&2
    mv "$bindir/.$c.tmp" "$bindir/$c"
    log "$c built after $(($(date +%s) - t0))s: $("$bindir/$c" --version 2>/dev/null || "$bindir/$c" version --client 2>/dev/null | head -1)"
  done
  echo "$bindir"
}

ensure_etcd() {
  command -v etcd >/dev/null && return 0
  log "installing etcd-server from Debian"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "etcd is missing and neither root nor sudo is available; install Debian's etcd-server"
    sudo=sudo
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends etcd-server >&2 ||
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends etcd-server >&2; }
  command -v etcd >/dev/null || die "etcd-server installed but no etcd on PATH"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# pki DIR: a CA, the apiserver's serving cert, an admin client cert, the
# service-account signing key pair and the static token file.
make_pki() {
  local d=$1/pki
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
      -subj "/CN=weir-test-ca" 2>/dev/null
    cat >server.ext <<'EOF'
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1
extendedKeyUsage=serverAuth
EOF
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.crt 2>/dev/null
    echo "extendedKeyUsage=clientAuth" >client.ext
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=weir-admin" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile client.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    local admin_tok limited_tok
    admin_tok=$(openssl rand -hex 16)
    limited_tok=$(openssl rand -hex 16)
    {
      echo "$admin_tok,weir-admin-token,uid-admin,\"system:masters\""
      echo "$limited_tok,weir-limited,uid-limited"
    } >tokens.csv
    echo "$admin_tok" >admin.token
    echo "$limited_tok" >limited.token
    chmod 600 ./*.key ./*.token tokens.csv
  )
}

write_kubeconfig() { # DIR PORT
  local d=$1 port=$2 b64="base64 -w0"
  cat >"$d/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: weir-test
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $($b64 <"$d/pki/ca.crt")
users:
- name: weir-admin
  user:
    client-certificate-data: $($b64 <"$d/pki/admin.crt")
    client-key-data: $($b64 <"$d/pki/admin.key")
- name: weir-limited
  user:
    token: $(cat "$d/pki/limited.token")
contexts:
- name: admin
  context: {cluster: weir-test, user: weir-admin, namespace: default}
- name: limited
  context: {cluster: weir-test, user: weir-limited, namespace: default}
current-context: admin
EOF
  chmod 600 "$d/kubeconfig"
}

start_bg() { # NAME DIR CMD...  — starts CMD in its own session, pid in DIR/NAME.pid
  local name=$1 d=$2
  shift 2
  setsid "$@" >"$d/$name.log" 2>&1 </dev/null &
  echo $! >"$d/$name.pid"
}

wait_url() { # DESC SECONDS CURL-ARGS...
  local desc=$1 secs=$2 i
  shift 2
  for ((i = 0; i < secs * 4; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "$@" 2>/dev/null; then return 0; fi
    sleep 0.25
  done
  return 1
}

cmd_start() {
  local d=${1:?usage: kube-env.sh start DIR}
  mkdir -p "$d"
  d=$(cd "$d" && pwd)
  [ -f "$d/apiserver.pid" ] && kill -0 "$(cat "$d/apiserver.pid")" 2>/dev/null &&
    die "$d already has a running apiserver; run: scripts/kube-env.sh stop $d"
  ensure_etcd
  have_bins || (cmd_build >/dev/null)
  make_pki "$d"
  local ep pp ap
  ep=$(free_port)
  pp=$(free_port)
  ap=$(free_port)
  # Debian's etcd 3.4 has no --unsafe-no-fsync; the data dir is thrown
  # away with DIR anyway.
  start_bg etcd "$d" etcd --name weir-test --data-dir "$d/etcd" \
    --listen-client-urls "http://127.0.0.1:$ep" --advertise-client-urls "http://127.0.0.1:$ep" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "weir-test=http://127.0.0.1:$pp" \
    --quota-backend-bytes 1073741824
  if ! wait_url etcd 30 "http://127.0.0.1:$ep/health"; then
    tail -20 "$d/etcd.log" >&2
    cmd_stop "$d"
    die "etcd did not become healthy on 127.0.0.1:$ep (log: $d/etcd.log)"
  fi
  local p=$d/pki
  start_bg apiserver "$d" "$bindir/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ep" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$ap" \
    --tls-cert-file "$p/server.crt" --tls-private-key-file "$p/server.key" \
    --client-ca-file "$p/ca.crt" --token-auth-file "$p/tokens.csv" \
    --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --cert-dir "$d/apiserver-certs" \
    --enable-priority-and-fairness=false \
    --endpoint-reconciler-type none \
    --profiling=false
  if ! wait_url apiserver 120 --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" \
    "https://127.0.0.1:$ap/readyz"; then
    tail -30 "$d/apiserver.log" >&2
    cmd_stop "$d"
    die "kube-apiserver did not become ready on 127.0.0.1:$ap (log: $d/apiserver.log)"
  fi
  write_kubeconfig "$d" "$ap"
  if [ -x "$bindir/kube-controller-manager" ] && [ "${WEIR_KUBE_CONTROLLERS:-1}" = 1 ]; then
    # Garbage collection (ownerReferences), namespace deletion, ServiceAccount
    # tokens and the aggregated admin/edit/view roles; no leader election.
    start_bg controller-manager "$d" "$bindir/kube-controller-manager" \
      --kubeconfig "$d/kubeconfig" --leader-elect=false \
      --controllers garbagecollector,namespace,serviceaccount,serviceaccount-token,clusterrole-aggregation \
      --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
      --bind-address 127.0.0.1 --secure-port 0
  fi
  echo "https://127.0.0.1:$ap" >"$d/server"
  # Tests compact etcd through this URL to force 410 Gone on old versions.
  echo "http://127.0.0.1:$ep" >"$d/etcd-url"
  log "ready: https://127.0.0.1:$ap  kubeconfig: $d/kubeconfig"
}

cmd_stop() {
  local d=${1:?usage: kube-env.sh stop DIR} n pid i
  for n in controller-manager apiserver etcd; do
    [ -f "$d/$n.pid" ] || continue
    pid=$(cat "$d/$n.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$d/$n.pid"
  done
  return 0
}

case "${1:-}" in
  build) cmd_build ;;
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  *) echo "usage: scripts/kube-env.sh build | start DIR | stop DIR" >&2; exit 2 ;;
esac
