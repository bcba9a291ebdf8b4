#!/usr/bin/env bash
# kube-node.sh — a real node for the control plane of scripts/kube-env.sh:
# containerd (Debian's, with its own config, root and state under DIR) and a
# kubelet v1.32.5 registered as node weir-node-0, so pods actually run.
#
#   scripts/kube-node.sh build              build kubelet into the cache, print its dir
#   scripts/kube-node.sh start DIR          containerd, kube-scheduler and kubelet (plus
#                                           the root-CA publisher controller) against the
#                                           control plane of `kube-env.sh start DIR`;
#                                           waits until weir-node-0 is Ready
#   scripts/kube-node.sh import ARCHIVE...  import OCI/docker archives into containerd's
#                                           k8s.io namespace (DIR from $WEIR_KUBE_DIR, or
#                                           the DIR of the last `start`)
#   scripts/kube-node.sh stop DIR           stop what `start DIR` started, remove its
#                                           containers, mounts, netns and bridge
#
# There is no registry: pods use images imported with `import` and
# imagePullPolicy: Never (or IfNotPresent). The sandbox ("pause") image is
# built here from Debian's static busybox and imported by `start`.
#
# Host requirements (Debian 12): containerd, runc, containernetworking-plugins,
# busybox-static (installed when missing, as root or via sudo), root for the
# kubelet and containerd. The node runs with cgroupfs, cgroupsPerQOS=false and
# no node-allocatable enforcement (the host has hybrid cgroup v1), and pods on
# a CNI bridge private to DIR.
#
# Pods on the bridge cannot reach the apiserver (it listens on 127.0.0.1 and
# there is no kube-proxy for the "kubernetes" Service); pods that talk to it
# need hostNetwork: true and the address from DIR/server.
#
# The kubelet is reached by the apiserver (logs, exec) on the host's primary
# IPv4 address (a node IP may not be loopback) on a free port, with the admin
# client certificate; kube-env.sh's apiserver is restarted once with
# --kubelet-preferred-address-types/--kubelet-client-* when it lacks them.
set -euo pipefail

K8S_VERSION=v1.32.5
NODE_NAME=weir-node-0
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache_root=${WEIR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir}
kcache=$cache_root/kube/$K8S_VERSION
bindir=$kcache/bin
PAUSE_IMAGE=weir.test/pause:1

log() { echo "kube-node: $*" >&2; }
die() { echo "kube-node: error: $*" >&2; exit 1; }

sudo_cmd() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_packages() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || [ -x /usr/sbin/runc ] || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  # Debian's busybox is dynamically linked; a FROM-scratch image needs busybox-static's.
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} from Debian"
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing ${missing[*]} and neither root nor sudo is available"
  fi
  DEBIAN_FRONTEND=noninteractive sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    { sudo_cmd apt-get -o DPkg::Lock::Timeout=600 update -qq &&
      DEBIAN_FRONTEND=noninteractive sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2; }
}

# build: kubelet, with the control plane, by kube-env.sh (one module in the
# cache's src/, the same Go caches, lock and version ldflags).
cmd_build() {
  "$here/kube-env.sh" build
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_bg() { # NAME DIR CMD...
  local name=$1 d=$2
  shift 2
  setsid "$@" >"$d/$name.log" 2>&1 </dev/null &
  echo $! >"$d/$name.pid"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() { # PIDFILE... — TERM all, wait up to 10 s, then KILL
  local f pid pids=() i left
  for f in "$@"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$f"
  done
  for ((i = 0; i < 40; i++)); do
    left=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ $left = 0 ] && return 0
    sleep 0.25
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  sleep 0.5
}

# The host's primary IPv4 address: the kubelet rejects a loopback node IP
# ("nodeIP can't be loopback address") and then publishes no address at all,
# so the apiserver cannot reach it for logs. WEIR_NODE_IP overrides.
node_ip() {
  if [ -n "${WEIR_NODE_IP:-}" ]; then echo "$WEIR_NODE_IP"; return; fi
  local ip
  ip=$(ip -4 route get 192.0.2.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -1)
  [ -n "$ip" ] || ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub("/.*","",$4); print $4; exit}')
  [ -n "$ip" ] || die "no non-loopback IPv4 address for the node; set WEIR_NODE_IP"
  echo "$ip"
}

# A FROM-scratch OCI archive with static busybox (sh, echo, sleep, ...).
# ENTRYPOINT_JSON, when given, becomes the image's entrypoint.
make_busybox_image() { # OUT REF [ENTRYPOINT_JSON]
  python3 - "$@" <<'EOF'
import gzip, hashlib, io, json, sys, tarfile
out, ref = sys.argv[1], sys.argv[2]
ep = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None

def add(t, name, data=b"", link=None, mode=0o755, d=False):
    ti = tarfile.TarInfo(name)
    ti.mtime, ti.uid, ti.gid, ti.mode = 0, 0, 0, mode
    if d:
        ti.type = tarfile.DIRTYPE
        t.addfile(ti)
    elif link:
        ti.type, ti.linkname = tarfile.SYMTYPE, link
        t.addfile(ti)
    else:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))

def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    add(t, "bin", d=True)
    add(t, "tmp", d=True, mode=0o1777)
    with open("/usr/bin/busybox", "rb") as f:
        add(t, "bin/busybox", f.read())
    for a in ("sh", "echo", "sleep", "cat", "ls", "true", "false", "env", "wget", "nc"):
        add(t, "bin/" + a, link="busybox")
layer = buf.getvalue()
gz = gzip.compress(layer, mtime=0)
config = {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]}
if ep:
    config = {"Env": ["PATH=/bin"], "Entrypoint": ep}
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": config,
                  "rootfs": {"type": "layers", "diff_ids": [digest(layer)]}}).encode()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                             "digest": digest(cfg), "size": len(cfg)},
                  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                              "digest": digest(gz), "size": len(gz)}]}).encode()
idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                  "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                 "digest": digest(man), "size": len(man),
                                 "platform": {"architecture": "amd64", "os": "linux"},
                                 "annotations": {"org.opencontainers.image.ref.name": ref,
                                                 "io.containerd.image.name": ref}}]}).encode()
with tarfile.open(out, "w") as t:
    add(t, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode(), mode=0o644)
    add(t, "index.json", idx, mode=0o644)
    add(t, "blobs", d=True)
    add(t, "blobs/sha256", d=True)
    for b in (gz, cfg, man):
        add(t, "blobs/sha256/" + digest(b)[7:], b, mode=0o644)
EOF
}

api() { # DIR METHOD PATH [CURL-ARGS...] — the apiserver as admin
  local d=$1 m=$2 path=$3 p=$1/pki
  shift 3
  curl -fsS --max-time 10 --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" \
    -X "$m" "$(cat "$d/server")$path" "$@"
}

ctr_k8s() { # DIR ARGS...
  local d=$1
  shift
  ctr --address "$d/containerd/containerd.sock" --namespace k8s.io "$@"
}

# A /24 and bridge name per DIR, so nodes of parallel control planes on one
# host do not share a bridge or hand out the same pod IPs.
net_index() { echo $(( $(printf '%s' "$1" | cksum | cut -d' ' -f1) % 200 + 20 )); }

write_containerd_config() { # DIR SNAPSHOTTER
  local d=$1 snap=$2 c=$1/containerd
  mkdir -p "$c/root" "$c/state"
  cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  address = "$c/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snap"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc || echo /usr/sbin/runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/cni/conf"
EOF
}

write_cni_config() { # DIR
  local d=$1 n
  n=$(net_index "$d")
  mkdir -p "$d/cni/conf" "$d/cni/ipam"
  cat >"$d/cni/conf/10-weir.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "weir-$n",
  "plugins": [
    {"type": "bridge", "bridge": "weir$n", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.$n.0/24"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$d/cni/ipam"}},
    {"type": "loopback"}
  ]
}
EOF
  echo "weir$n" >"$d/cni/bridge"
}

start_containerd() { # DIR
  local d=$1 snap i
  for snap in overlayfs native; do
    write_containerd_config "$d" "$snap"
    start_bg containerd "$d" containerd --config "$d/containerd/config.toml"
    for ((i = 0; i < 60; i++)); do
      ctr --address "$d/containerd/containerd.sock" version >/dev/null 2>&1 && break
      alive "$d/containerd.pid" || break
      sleep 0.25
    done
    alive "$d/containerd.pid" || { tail -20 "$d/containerd.log" >&2; die "containerd exited (log: $d/containerd.log)"; }
    # Smoke-test the snapshotter with the pause image: unpacking it mounts
    # nothing, but running a task does.
    if ctr_k8s "$d" images import --snapshotter "$snap" "$d/images/pause.oci.tar" >/dev/null 2>>"$d/containerd.log" &&
      ctr_k8s "$d" run --rm --snapshotter "$snap" "$PAUSE_IMAGE" "weir-probe-$$" /bin/true >/dev/null 2>>"$d/containerd.log"; then
      echo "$snap" >"$d/containerd/snapshotter"
      return 0
    fi
    log "containerd with snapshotter $snap cannot run a container; see $d/containerd.log"
    stop_pid "$d/containerd.pid"
  done
  die "containerd cannot run containers with overlayfs or native (log: $d/containerd.log)"
}

# kube-env.sh's apiserver (as of this writing) prefers the node's Hostname
# address, which does not resolve, and has no client certificate for the
# kubelet; restart it once with both, keeping its port, etcd and flags.
ensure_apiserver_kubelet_flags() { # DIR
  local d=$1 pid args=() a p=$1/pki
  pid=$(cat "$d/apiserver.pid")
  mapfile -d '' args <"/proc/$pid/cmdline"
  for a in "${args[@]}"; do
    case $a in --kubelet-preferred-address-types*) return 0 ;; esac
  done
  log "restarting kube-apiserver with --kubelet-preferred-address-types and --kubelet-client-certificate"
  stop_pid "$d/apiserver.pid"
  setsid "${args[@]}" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --kubelet-client-certificate "$p/admin.crt" --kubelet-client-key "$p/admin.key" \
    >>"$d/apiserver.log" 2>&1 </dev/null &
  echo $! >"$d/apiserver.pid"
  local server i
  server=$(cat "$d/server")
  for ((i = 0; i < 480; i++)); do
    curl -fsS -o /dev/null --max-time 2 --cacert "$p/ca.crt" --cert "$p/admin.crt" --key "$p/admin.key" \
      "$server/readyz" 2>/dev/null && return 0
    sleep 0.25
  done
  tail -30 "$d/apiserver.log" >&2
  die "kube-apiserver did not come back after the restart (log: $d/apiserver.log)"
}

cmd_start() {
  local d=${1:?usage: kube-node.sh start DIR}
  [ -d "$d" ] || die "$d does not exist; run: scripts/kube-env.sh start $d"
  d=$(cd "$d" && pwd)
  [ -f "$d/kubeconfig" ] && alive "$d/apiserver.pid" ||
    die "no running control plane in $d; run: scripts/kube-env.sh start $d"
  alive "$d/kubelet.pid" && die "$d already has a running kubelet; run: scripts/kube-node.sh stop $d"
  [ "$(id -u)" -eq 0 ] || die "the kubelet and containerd need root"
  ensure_packages
  (cmd_build >/dev/null)
  local t0 kc=$d/kubeconfig
  t0=$(date +%s)
  ensure_apiserver_kubelet_flags "$d"
  echo "$d" >"$kcache/last-node-dir"

  mkdir -p "$d/images"
  make_busybox_image "$d/images/pause.oci.tar" "$PAUSE_IMAGE" \
    '["/bin/sh","-c","trap \"exit 0\" TERM INT; sleep 2147483647 & wait"]'
  write_cni_config "$d"
  start_containerd "$d"

  # Pods that mount a service-account token need the kube-root-ca.crt
  # ConfigMap in their namespace; kube-env.sh's controller-manager does not
  # run the controller that publishes it, so run it here when missing.
  local cm_args=""
  alive "$d/controller-manager.pid" && cm_args=$(tr '\0' ' ' <"/proc/$(cat "$d/controller-manager.pid")/cmdline")
  case $cm_args in
    *root-ca-cert-publisher*) ;;
    *)
      start_bg node-controllers "$d" "$bindir/kube-controller-manager" --kubeconfig "$kc" \
        --leader-elect=false --controllers root-ca-cert-publisher \
        --root-ca-file "$d/pki/ca.crt" --bind-address 127.0.0.1 --secure-port 0
      ;;
  esac

  # kube-env.sh starts no scheduler.
  if [ ! -f "$d/scheduler.pid" ] || ! alive "$d/scheduler.pid"; then
    start_bg scheduler "$d" "$bindir/kube-scheduler" --kubeconfig "$kc" \
      --authentication-kubeconfig "$kc" --authorization-kubeconfig "$kc" \
      --leader-elect=false --bind-address 127.0.0.1 --secure-port 0
  fi

  local ip port k=$d/kubelet
  ip=$(node_ip)
  port=$(free_port)
  mkdir -p "$k/root" "$k/certs" "$k/manifests" "$k/pods-logs"
  cat >"$k/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: $port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $d/pki/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$d/containerd/containerd.sock
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
protectKernelDefaults: false
makeIPTablesUtilChains: false
localStorageCapacityIsolation: false
staticPodPath: $k/manifests
podLogsDirectory: $k/pods-logs
serializeImagePulls: false
resolvConf: ""
registerNode: true
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "0%", nodefs.available: "0%", imagefs.available: "0%"}
EOF
  start_bg kubelet "$d" "$bindir/kubelet" --config "$k/config.yaml" --kubeconfig "$kc" \
    --hostname-override "$NODE_NAME" --node-ip "$ip" \
    --root-dir "$k/root" --cert-dir "$k/certs" -v 1

  local i ready=""
  for ((i = 0; i < 240; i++)); do
    alive "$d/kubelet.pid" || break
    ready=$(api "$d" GET "/api/v1/nodes/$NODE_NAME" 2>/dev/null | python3 -c '
import json, sys
n = json.load(sys.stdin)
print(next((c["status"] for c in n["status"].get("conditions", []) if c["type"] == "Ready"), ""))' 2>/dev/null || true)
    [ "$ready" = True ] && break
    sleep 0.5
  done
  if [ "$ready" != True ]; then
    tail -30 "$d/kubelet.log" >&2
    die "node $NODE_NAME did not become Ready (log: $d/kubelet.log)"
  fi
  # The kubelet registers with the not-ready taint; kube-env.sh runs no
  # node-lifecycle controller to lift it.
  local patch
  patch=$(api "$d" GET "/api/v1/nodes/$NODE_NAME" | python3 -c '
import json, sys
n = json.load(sys.stdin)
t = [x for x in n["spec"].get("taints") or [] if x["key"] != "node.kubernetes.io/not-ready"]
print(json.dumps({"spec": {"taints": t or None}}))')
  api "$d" PATCH "/api/v1/nodes/$NODE_NAME" -H 'Content-Type: application/merge-patch+json' -d "$patch" >/dev/null
  log "node $NODE_NAME Ready after $(($(date +%s) - t0))s (kubelet $ip:$port, containerd $(cat "$d/containerd/snapshotter"), pods on $(cat "$d/cni/bridge"))"
}

cmd_import() {
  [ $# -gt 0 ] || die "usage: kube-node.sh import ARCHIVE..."
  local d=${WEIR_KUBE_DIR:-}
  [ -n "$d" ] || d=$(cat "$kcache/last-node-dir" 2>/dev/null || true)
  [ -n "$d" ] && alive "$d/containerd.pid" || die "no running containerd; set WEIR_KUBE_DIR=DIR of kube-node.sh start"
  local a
  for a in "$@"; do
    ctr_k8s "$d" images import --all-platforms "$a" >&2
  done
}

cmd_stop() {
  local d=${1:?usage: kube-node.sh stop DIR} id ids m s pid
  [ -d "$d" ] || return 0
  d=$(cd "$d" && pwd)
  stop_pid "$d/kubelet.pid" "$d/scheduler.pid" "$d/node-controllers.pid"
  if alive "$d/containerd.pid"; then
    ids=$(ctr_k8s "$d" tasks ls -q 2>/dev/null || true)
    for id in $ids; do ctr_k8s "$d" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    # containerd's CRI plugin reaps killed tasks itself; force what is left.
    for ((s = 0; s < 20; s++)); do
      [ -z "$(ctr_k8s "$d" tasks ls -q 2>/dev/null)" ] && break
      sleep 0.25
    done
    for id in $(ctr_k8s "$d" tasks ls -q 2>/dev/null || true); do
      ctr_k8s "$d" tasks delete --force "$id" >/dev/null 2>&1 || true
    done
    for id in $(ctr_k8s "$d" containers ls -q 2>/dev/null || true); do
      ctr_k8s "$d" containers delete "$id" >/dev/null 2>&1 || true
    done
  fi
  stop_pid "$d/containerd.pid"
  # Shims outlive containerd; they are the ones started with our socket.
  for pid in $(pgrep -f containerd-shim 2>/dev/null || true); do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-address $d/containerd/containerd.sock "; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  # Pod volumes, overlay rootfs, shm and netns mounts, deepest first;
  # dropping the netns removes the pods' veths.
  for m in $(awk -v p="$d/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  if [ -f "$d/cni/bridge" ]; then
    ip link delete "$(cat "$d/cni/bridge")" 2>/dev/null || true
  fi
  return 0
}

case "${1:-}" in
  build) cmd_build ;;
  start) cmd_start "${2:-}" ;;
  import) shift; cmd_import "$@" ;;
  stop) cmd_stop "${2:-}" ;;
  *) echo "usage: scripts/kube-node.sh build | start DIR | import ARCHIVE... | stop DIR" >&2; exit 2 ;;
esac
