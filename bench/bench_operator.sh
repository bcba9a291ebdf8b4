#!/usr/bin/env bash
# bench_operator.sh — weir-operator vs Argo Workflows' workflow-controller:
# N one-node runs submitted at once, on a real control plane whose nodes and
# pods are simulated by KWOK.
#
#   bench/bench_operator.sh [BUILD_DIR] [N]   (default: build, 1000)
#   bench/bench_operator.sh --tools           build kwok and workflow-controller only
#
# For each side, a fresh control plane (scripts/kube-env.sh: etcd, apiserver,
# controller-manager) plus kube-scheduler and kwok managing WEIR_BENCH_NODES
# (default 10) fake nodes; both sides get the same apiserver binary, flags and
# simulated nodes, and neither sees the other's leftovers. Then:
#
#   argo  Argo's CRDs (from its module source), its ConfigMap, the controller
#         in namespaced mode on namespace argo-bench; N Workflows with one
#         container template each.
#   weir  manifests/crds, BUILD_DIR/bin/weir-operator on namespace bench; N
#         PipelineRuns, each with an inline pipeline of one Executable node.
#
# bench/operator/kube_load.py POSTs the N objects from 16 connections (no
# client-side rate limit) and watches them until all report status.phase
# Succeeded. Figures per side: wall time from the first POST until the last
# Succeeded and runs/s; the controller's CPU seconds over that window
# (/proc/PID/stat utime+stime) and its peak RSS (VmHWM, whole lifetime); the
# apiserver's requests (apiserver_request_total delta, every client: the
# controller, kube-scheduler, kwok, controller-manager and the load script)
# per second and per run, and the apiserver's own CPU seconds. Then the
# ratios weir/argo (throughput) and argo/weir (memory); the goal is >= 5x the
# throughput with <= 1/10 of the memory.
#
# Pods: kwok's "fast" pod stages from its module source
# (kustomize/stage/pod/fast): a bound pod goes Running at once (init
# containers terminated with exit code 0), then Succeeded with every
# container terminated with exit code 0 after WEIR_BENCH_STAGE_MS (default
# 1000); the complete stage selects pods of restartPolicy Never instead of
# pods owned by a Job. Two status patches per pod. (kwok's "general" stages,
# five or more patches per pod, made kwok and the apiserver the bottleneck
# on a 2-core machine.)
#
# Argo under kwok: the controller (v3.6) marks a pod node Succeeded from the
# pod's phase once no container named "wait" is still running; it waits for a
# WorkflowTaskResult only when it has seen one labelled
# workflows.argoproj.io/report-outputs-completed=false (the wait container
# creates it and flips it to true). Under kwok no wait container runs, so no
# task result exists and the templates have no outputs: nothing to wait for,
# no setting needed. The wait container's own API calls (one task result
# create/patch per pod) are therefore not in Argo's figures.
# Argo's client runs at its defaults (--qps 20 --burst 30, 32 workflow
# workers, DEFAULT_REQUEUE_TIME 10s) unless WEIR_BENCH_ARGO_QPS,
# WEIR_BENCH_ARGO_BURST, WEIR_BENCH_ARGO_WORKERS or
# WEIR_BENCH_ARGO_REQUEUE (e.g. 1s) say otherwise; kube-scheduler gets qps
# 1000 / burst 2000 so that binding pods does not limit either side.
#
# Tools, built on first use from the Go module proxy into
# ${WEIR_CACHE:-$HOME/.cache/weir}/bench-tools (GOPATH, GOMODCACHE and
# GOCACHE under ${WEIR_CACHE}/go, as scripts/kube-env.sh does; build logs
# next to the binaries): kwok $KWOK_VERSION (go install) and
# workflow-controller $ARGO_VERSION (the wrapper module bench/operator/argo,
# because the proxy refuses the version list that `go install mod@version`
# reads). Needs go, kubectl, curl, python3, etcd (kube-env.sh installs it).
#
# Environment: WEIR_BENCH_OPERATOR_SIDES ("argo weir"), WEIR_BENCH_NODES (10),
# WEIR_BENCH_STAGE_MS (1000), WEIR_BENCH_TIMEOUT (1800 s per side),
# WEIR_BENCH_KEEP=1 keeps the state directory (logs, kubeconfigs).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

KWOK_VERSION=v0.7.0
ARGO_VERSION=v3.6.18

cache_root=${WEIR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir}
tools=$cache_root/bench-tools
kwok_bin=$tools/kwok-$KWOK_VERSION/bin/kwok
argo_bin=$tools/argo-$ARGO_VERSION/bin/workflow-controller
export GOPATH=$cache_root/go/path GOMODCACHE=$cache_root/go/mod GOCACHE=$cache_root/go/build
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -modcacherw"
kwok_src=$GOMODCACHE/sigs.k8s.io/kwok@$KWOK_VERSION
argo_src=$GOMODCACHE/github.com/argoproj/argo-workflows/v3@$ARGO_VERSION

log() { echo "bench_operator: $*" >&2; }
die() { echo "bench_operator: error: $*" >&2; exit 1; }
now() { date +%s.%N; }

# ---- tools

build_tools() {
  [ -x "$kwok_bin" ] && [ -x "$argo_bin" ] && [ -d "$kwok_src" ] && [ -d "$argo_src" ] && return 0
  command -v go >/dev/null || die "go is needed to build kwok $KWOK_VERSION and workflow-controller $ARGO_VERSION"
  mkdir -p "$tools" "$GOPATH" "$GOMODCACHE" "$GOCACHE"
  exec 8>"$tools/build.lock"
  flock 8
  local t0 d
  if [ ! -x "$kwok_bin" ] || [ ! -d "$kwok_src" ]; then
    d=$tools/kwok-$KWOK_VERSION
    mkdir -p "$d/bin"
    log "building kwok $KWOK_VERSION (log: $d/build.log)"
    t0=$(date +%s)
    if ! GOBIN=$d/bin go install -trimpath \
      -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
      "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >"$d/build.log" 2>&1; then
      tail -20 "$d/build.log" >&2
      die "building kwok failed (log: $d/build.log)"
    fi
    log "kwok built in $(($(date +%s) - t0))s"
  fi
  if [ ! -x "$argo_bin" ] || [ ! -d "$argo_src" ]; then
    d=$tools/argo-$ARGO_VERSION
    mkdir -p "$d/bin" "$d/src"
    cp bench/operator/argo/go.mod bench/operator/argo/tools.go "$d/src/"
    [ -f bench/operator/argo/go.sum ] && cp bench/operator/argo/go.sum "$d/src/"
    log "building workflow-controller $ARGO_VERSION (log: $d/build.log)"
    t0=$(date +%s)
    if ! (cd "$d/src" && go mod tidy && go build -trimpath \
      -ldflags "-s -w -X github.com/argoproj/argo-workflows/v3.version=$ARGO_VERSION" \
      -o "$d/bin/.workflow-controller.tmp" github.com/argoproj/argo-workflows/v3/cmd/workflow-controller) \
      >"$d/build.log" 2>&1; then
      tail -20 "$d/build.log" >&2
      die "building workflow-controller failed (log: $d/build.log)"
    fi
    mv "$d/bin/.workflow-controller.tmp" "$argo_bin"
    log "workflow-controller built in $(($(date +%s) - t0))s"
  fi
  flock -u 8
}

if [ "${1:-}" = --tools ]; then
  build_tools
  echo "$kwok_bin"
  echo "$argo_bin"
  exit 0
fi

build=${1:-build}
n=${2:-1000}
sides=${WEIR_BENCH_OPERATOR_SIDES:-argo weir}
nodes=${WEIR_BENCH_NODES:-10}
stage_ms=${WEIR_BENCH_STAGE_MS:-1000}
timeout=${WEIR_BENCH_TIMEOUT:-1800}
operator=$build/bin/weir-operator
[[ $n =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, not '$n'"
for c in curl python3 flock; do
  command -v "$c" >/dev/null || die "$c is needed"
done

state=$(mktemp -d "${TMPDIR:-/tmp}/weir-bench-operator.XXXXXX")
pids=()
stop_all() { # what this script started: its own processes, then the control planes
  local p i d
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    for ((i = 0; i < 40; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$p" 2>/dev/null || true
  done
  pids=()
  for d in "$state"/*/kube; do
    [ -d "$d" ] && scripts/kube-env.sh stop "$d" >/dev/null 2>&1
  done
  return 0
}
cleanup() {
  stop_all
  if [ "${WEIR_BENCH_KEEP:-0}" = 1 ]; then
    log "state kept in $state"
  else
    rm -rf "$state"
  fi
}
trap cleanup EXIT

build_tools
# kube-env.sh's binaries; built only when one this script runs is missing.
kube_version=$(sed -n 's/^K8S_VERSION=//p' scripts/kube-env.sh)
bindir=$cache_root/kube/$kube_version/bin
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  [ -x "$bindir/$c" ] || { bindir=$(scripts/kube-env.sh build); break; }
done
[ -x "$bindir/kube-scheduler" ] || die "no kube-scheduler in $bindir"
[ -x "$bindir/kubectl" ] && PATH=$bindir:$PATH
command -v kubectl >/dev/null || die "kubectl is needed (scripts/kube-env.sh build makes one)"

# kube-env.sh's apiserver with the WatchList feature gate off. Debian's etcd
# 3.4 lacks the progress notifications that watch-list needs, yet with the
# gate on (the 1.32 default) the apiserver turns every watch from
# resourceVersion 0 into a watch-list request and fails it; kwok watches
# that way, so its informers would fall back to relisting every few seconds.
# kube-env.sh reads its binaries from $WEIR_CACHE/kube/VERSION/bin: point it
# at a directory whose kube-apiserver adds the flag.
kbin=$state/kube-cache/kube/$kube_version/bin
mkdir -p "$kbin"
ln -s "$bindir/kube-controller-manager" "$bindir/kube-scheduler" "$kbin/"
printf '#!/bin/sh\nexec %q --feature-gates=WatchList=false "$@"\n' "$bindir/kube-apiserver" >"$kbin/kube-apiserver"
chmod +x "$kbin/kube-apiserver"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_bg() { # NAME DIR CMD...  (pid appended to pids, in DIR/NAME.pid)
  local name=$1 d=$2
  shift 2
  setsid "$@" >"$d/$name.log" 2>&1 </dev/null &
  pids+=($!)
  echo $! >"$d/$name.pid"
}

# The kwok configuration: options, then kwok's "fast" pod stages, the
# complete stage keyed on restartPolicy Never and delayed by WEIR_BENCH_STAGE_MS.
kwok_config() { # FILE
  local f=$1 s sd=$kwok_src/kustomize/stage/pod/fast
  [ -f "$sd/pod-complete.yaml" ] || die "no pod stages in $sd"
  {
    cat <<'EOF'
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: 16
  nodePlayStageParallelism: 4
EOF
    for s in pod-ready pod-complete pod-delete; do
      echo "---"
      if [ "$s" = pod-complete ]; then
        sed -e "s/'\.metadata\.ownerReferences\.\[\]\.kind'/'.spec.restartPolicy'/" \
          -e "s/^\(\s*\)- 'Job'$/\1- 'Never'/" \
          -e "s/^  next:$/  delay:\n    durationMilliseconds: $stage_ms\n  next:/" "$sd/$s.yaml"
      else
        cat "$sd/$s.yaml"
      fi
    done
  } >"$f"
  grep -q "'.spec.restartPolicy'" "$f" && grep -q -e "- 'Never'" "$f" && grep -q "durationMilliseconds: $stage_ms" "$f" ||
    die "kwok $KWOK_VERSION's pod-complete stage changed shape; update kwok_config"
}

# cluster SIDE NAMESPACE: control plane, scheduler, kwok, fake nodes and the
# namespace (with its default ServiceAccount) in $state/SIDE.
cluster() {
  local side=$1 ns=$2 d=$state/$1 i
  mkdir -p "$d"
  WEIR_CACHE=$state/kube-cache scripts/kube-env.sh start "$d/kube" >"$d/kube-env.log" 2>&1 ||
    { cat "$d/kube-env.log" >&2; die "kube-env.sh start failed"; }
  kc=$d/kube/kubeconfig
  k() { kubectl --kubeconfig "$kc" "$@"; }
  load=(python3 bench/operator/kube_load.py --server "$(cat "$d/kube/server")"
    --ca "$d/kube/pki/ca.crt" --cert "$d/kube/pki/admin.crt" --key "$d/kube/pki/admin.key")
  cat >"$d/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: $kc
  qps: 1000
  burst: 2000
leaderElection:
  leaderElect: false
EOF
  start_bg scheduler "$d" "$bindir/kube-scheduler" --config "$d/scheduler.yaml" \
    --bind-address 127.0.0.1 --secure-port 0
  kwok_config "$d/kwok.yaml"
  start_bg kwok "$d" "$kwok_bin" --config "$d/kwok.yaml" --kubeconfig "$kc" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --server-address "127.0.0.1:$(free_port)" --node-lease-duration-seconds 40
  for ((i = 0; i < nodes; i++)); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
status:
  allocatable: {cpu: "1000", memory: 4Ti, pods: "$n"}
  capacity: {cpu: "1000", memory: 4Ti, pods: "$n"}
EOF
  done >"$d/nodes.yaml"
  k apply -f "$d/nodes.yaml" >/dev/null
  k wait --for=condition=Ready node -l type=kwok --timeout=120s >/dev/null ||
    { tail -20 "$d/kwok.log" >&2; die "kwok nodes did not become Ready (log: $d/kwok.log)"; }
  # The TaintNodesByCondition admission plugin taints new nodes
  # not-ready; kube-env runs no node-lifecycle controller to lift it.
  k taint nodes -l type=kwok node.kubernetes.io/not-ready:NoSchedule- >/dev/null 2>&1 || true
  k create namespace "$ns" >/dev/null
  for ((i = 0; i < 240; i++)); do
    k -n "$ns" get serviceaccount default >/dev/null 2>&1 && break
    sleep 0.25
  done
  k -n "$ns" get serviceaccount default >/dev/null || die "no default ServiceAccount in $ns"
}

cpu_s() { # PID: utime+stime in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f\n", ($12 + $13) / hz }' "/proc/$1/stat"
}
hwm_mib() { awk '/^VmHWM:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"; }

# measure SIDE PID GROUP VERSION RESOURCE NS TEMPLATE FAILED-PHASES...: the
# run, with the controller PID's CPU and memory and the apiserver's counters
# around it. Writes $state/SIDE/result (key value lines).
measure() {
  local side=$1 pid=$2 group=$3 version=$4 resource=$5 ns=$6 tmpl=$7 d=$state/$1
  shift 7
  local fp=() p api c0 c1 a0 a1
  for p in "$@"; do fp+=(--failed-phase "$p"); done
  api=$(cat "$d/kube/apiserver.pid")
  "${load[@]}" metrics >"$d/req0.txt"
  c0=$(cpu_s "$pid")
  a0=$(cpu_s "$api")
  if ! "${load[@]}" run --group "$group" --version "$version" --resource "$resource" \
    --namespace "$ns" --template "$tmpl" --prefix bench- --count "$n" --timeout "$timeout" \
    --progress 10 "${fp[@]}" >"$d/run.txt"; then
    cat "$d/run.txt" >&2
    die "$side: the runs did not all succeed (logs: $d)"
  fi
  c1=$(cpu_s "$pid")
  a1=$(cpu_s "$api")
  "${load[@]}" metrics >"$d/req1.txt"
  kill -0 "$pid" 2>/dev/null || die "$side: the controller exited (log: $d)"
  awk 'NR == FNR { a[$1 " " $2] = $3; next } { d = $3 - a[$1 " " $2]; if (d > 0) print d, $1, $2 }' \
    "$d/req0.txt" "$d/req1.txt" | sort -rn >"$d/requests.txt"
  {
    cat "$d/run.txt"
    echo "cpu_s $(echo "$c1 - $c0" | bc -l)"
    echo "hwm_mib $(hwm_mib "$pid")"
    echo "api_cpu_s $(echo "$a1 - $a0" | bc -l)"
    echo "requests $(awk '{ s += $1 } END { print s + 0 }' "$d/requests.txt")"
  } >"$d/result"
  local wall req
  wall=$(fig wall_s "$d/result")
  req=$(fig requests "$d/result")
  printf '%s: %d runs Succeeded in %.2f s (%.1f runs/s; p50 %.2f s, p99 %.2f s from POST), controller CPU %.2f s, peak RSS %.1f MiB, apiserver %.0f req/s, %.1f req/run\n' \
    "$side" "$n" "$wall" "$(echo "$n / $wall" | bc -l)" "$(fig latency_p50_s "$d/result")" \
    "$(fig latency_p99_s "$d/result")" "$(fig cpu_s "$d/result")" "$(fig hwm_mib "$d/result")" \
    "$(echo "$req / $wall" | bc -l)" "$(echo "$req / $n" | bc -l)"
  printf '  requests by verb and resource: %s\n' \
    "$(head -8 "$d/requests.txt" | awk '{ printf "%s%s %s %d", (NR > 1 ? ", " : ""), $2, $3, $1 }')"
}
fig() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

# wait_watchable PATH: a new CRD's watch cache answers 429 "storage is
# (re)initializing" for a moment after the CRD is Established; start the
# controller once a watch is served.
wait_watchable() {
  local i
  for ((i = 0; i < 120; i++)); do
    k get --raw "$1?watch=1&timeoutSeconds=1" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  die "no watch on $1 after 60 s"
}

wait_log() { # FILE REGEX SECONDS PID
  local i
  for ((i = 0; i < $3 * 4; i++)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    kill -0 "$4" 2>/dev/null || return 1
    sleep 0.25
  done
  return 1
}

# ---- Argo
run_argo() {
  local d=$state/argo ns=argo-bench mport pid
  cluster argo "$ns"
  [ -d "$argo_src/manifests/base/crds/minimal" ] || die "no CRDs in $argo_src"
  k apply --server-side -k "$argo_src/manifests/base/crds/minimal" >/dev/null
  k wait --for condition=Established --timeout=60s \
    crd/workflows.argoproj.io crd/workflowtaskresults.argoproj.io crd/workflowtasksets.argoproj.io \
    crd/workflowtemplates.argoproj.io crd/clusterworkflowtemplates.argoproj.io >/dev/null
  # The controller runs with the admin kubeconfig (system:masters), so Argo's
  # RBAC manifests are not needed. Its metrics server gets a free port.
  mport=$(free_port)
  cat >"$d/configmap.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: workflow-controller-configmap
  namespace: $ns
data:
  metricsConfig: |
    port: $mport
EOF
  k apply -f "$d/configmap.yaml" >/dev/null
  wait_watchable "/apis/argoproj.io/v1alpha1/namespaces/$ns/workflows"
  local args=(--kubeconfig "$kc" --namespace "$ns" --namespaced --managed-namespace "$ns"
    --configmap workflow-controller-configmap --executor-image "quay.io/argoproj/argoexec:$ARGO_VERSION")
  [ -n "${WEIR_BENCH_ARGO_QPS:-}" ] && args+=(--qps "$WEIR_BENCH_ARGO_QPS")
  [ -n "${WEIR_BENCH_ARGO_BURST:-}" ] && args+=(--burst "$WEIR_BENCH_ARGO_BURST")
  [ -n "${WEIR_BENCH_ARGO_WORKERS:-}" ] && args+=(--workflow-workers "$WEIR_BENCH_ARGO_WORKERS")
  local env=(env LEADER_ELECTION_DISABLE=true)
  [ -n "${WEIR_BENCH_ARGO_REQUEUE:-}" ] && env+=(DEFAULT_REQUEUE_TIME="$WEIR_BENCH_ARGO_REQUEUE")
  start_bg workflow-controller "$d" "${env[@]}" "$argo_bin" "${args[@]}"
  pid=$(cat "$d/workflow-controller.pid")
  # Ready once its informers have synced (logged just before the workers start).
  wait_log "$d/workflow-controller.log" 'Starting workflow garbage collector controller' 120 "$pid" ||
    { tail -20 "$d/workflow-controller.log" >&2; die "workflow-controller did not start (log: $d/workflow-controller.log)"; }
  cat >"$d/workflow.json" <<'EOF'
{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
 "metadata": {"name": "bench-@N@"},
 "spec": {"entrypoint": "step",
          "templates": [{"name": "step",
                         "container": {"image": "localhost/weir-bench:0.1.0", "command": ["true"]}}]}}
EOF
  echo "argo: workflow-controller $ARGO_VERSION, qps ${WEIR_BENCH_ARGO_QPS:-20 (default)}, burst ${WEIR_BENCH_ARGO_BURST:-30 (default)}, workflow workers ${WEIR_BENCH_ARGO_WORKERS:-32 (default)}, requeue ${WEIR_BENCH_ARGO_REQUEUE:-10s (default)}; $n Workflows"
  measure argo "$pid" argoproj.io v1alpha1 workflows "$ns" "$d/workflow.json" Failed Error
}

# ---- weir
run_weir() {
  local d=$state/weir ns=bench port pid i up=0
  cluster weir "$ns"
  k apply -f manifests/crds/weir.dev_pipelines.yaml -f manifests/crds/weir.dev_pipelineruns.yaml >/dev/null
  k wait --for condition=Established --timeout=60s crd/pipelines.weir.dev crd/pipelineruns.weir.dev >/dev/null
  wait_watchable "/apis/weir.dev/v1alpha1/namespaces/$ns/pipelineruns"
  port=$(free_port)
  start_bg weir-operator "$d" "$operator" --kubeconfig "$kc" --namespace "$ns" \
    --metadata "$d/weir-meta.sqlite" --image-registry localhost --image-tag 0.1.0 \
    --listen "127.0.0.1:$port" ${WEIR_BENCH_OPERATOR_FLAGS:-}
  pid=$(cat "$d/weir-operator.pid")
  # Ready once its listener answers (any HTTP status).
  for ((i = 0; i < 240; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/readyz"; then up=1; break; fi
    sleep 0.25
  done
  [ "$up" = 1 ] || { tail -20 "$d/weir-operator.log" >&2; die "weir-operator did not answer on 127.0.0.1:$port (log: $d/weir-operator.log)"; }
  cat >"$d/pipelinerun.json" <<'EOF'
{"apiVersion": "weir.dev/v1alpha1", "kind": "PipelineRun",
 "metadata": {"name": "bench-@N@"},
 "spec": {"pipeline": {"name": "bench-@N@", "root": "file:///tmp/weir-bench/@N@",
                       "components": [{"name": "step", "type": "Executable",
                                       "image": "localhost/weir-bench:0.1.0", "command": ["true"],
                                       "cache": false}]}}}
EOF
  log "weir: $operator, $n PipelineRuns"
  measure weir "$pid" weir.dev v1alpha1 pipelineruns "$ns" "$d/pipelinerun.json" Failed
}

echo "bench_operator: $n one-node runs at once; $nodes kwok $KWOK_VERSION nodes, pod stages every $stage_ms ms; Kubernetes $("$bindir/kube-apiserver" --version | awk '{ print $2 }')"
for side in $sides; do
  case $side in
    argo) run_argo ;;
    weir)
      if [ -x "$operator" ]; then run_weir; else log "weir: $operator is not built; weir side skipped"; fi ;;
    *) die "unknown side '$side' in WEIR_BENCH_OPERATOR_SIDES" ;;
  esac
  stop_all
done

[ -f "$state/weir/result" ] && [ -f "$state/argo/result" ] || exit 0
w=$state/weir/result
a=$state/argo/result
echo
printf '%-30s %12s %12s %10s\n' "figure" "weir" "argo" "weir/argo"
row() {
  if [ "$(echo "$3 > 0" | bc -l)" = 1 ]; then
    printf '%-30s %12.2f %12.2f %10.2f\n' "$1" "$2" "$3" "$(echo "$2 / $3" | bc -l)"
  else
    printf '%-30s %12.2f %12.2f %10s\n' "$1" "$2" "$3" -
  fi
}
rps() { echo "$n / $(fig wall_s "$1")" | bc -l; }
row "runs/s ($n runs)" "$(rps "$w")" "$(rps "$a")"
row "wall s" "$(fig wall_s "$w")" "$(fig wall_s "$a")"
row "p99 latency s" "$(fig latency_p99_s "$w")" "$(fig latency_p99_s "$a")"
row "controller CPU s" "$(fig cpu_s "$w")" "$(fig cpu_s "$a")"
row "controller peak RSS MiB" "$(fig hwm_mib "$w")" "$(fig hwm_mib "$a")"
row "apiserver req/s" "$(echo "$(fig requests "$w") / $(fig wall_s "$w")" | bc -l)" \
  "$(echo "$(fig requests "$a") / $(fig wall_s "$a")" | bc -l)"
row "apiserver requests/run" "$(echo "$(fig requests "$w") / $n" | bc -l)" "$(echo "$(fig requests "$a") / $n" | bc -l)"
row "apiserver CPU s" "$(fig api_cpu_s "$w")" "$(fig api_cpu_s "$a")"
thr=$(echo "$(rps "$w") / $(rps "$a")" | bc -l)
mem=$(echo "$(fig hwm_mib "$a") / $(fig hwm_mib "$w")" | bc -l)
echo
printf 'throughput weir/argo: %.2fx (goal >= 5x: %s)\n' "$thr" "$(echo "$thr >= 5" | bc -l | sed 's/1/met/;s/0/not met/')"
printf 'peak memory argo/weir: %.2fx (goal >= 10x: %s)\n' "$mem" "$(echo "$mem >= 10" | bc -l | sed 's/1/met/;s/0/not met/')"
