#!/usr/bin/env bash
# e2e/operator.sh BUILD_DIR — weir on a real Kubernetes node, end to end.
#
# Starts, all on this machine and torn down at the end:
#   etcd + kube-apiserver + kube-controller-manager   (scripts/kube-env.sh)
#   containerd + runc + kube-scheduler + kubelet      (scripts/kube-node.sh)
#   versitygw, the S3 server                          (scripts/s3-server.sh)
# builds the container images from BUILD_DIR/bin (scripts/build-images.sh)
# and imports them into the node, applies the CRDs and the operator's RBAC
# from manifests/, and runs BUILD_DIR/bin/weir-operator as its ServiceAccount
# (a token of weir-system/weir-operator, not an admin) against it. Then:
#   - weir-server (BUILD_DIR/bin, over a SQLite file) holds the metadata:
#     the operator publishes through its API (--metadata http://..., the
#     write token from a file), as the Helm chart sets it up;
#   - the churn pipeline (a Pipeline + a PipelineRun) runs to Succeeded with
#     every node a real pod from its image, artifacts on S3, metadata
#     published through weir-server, logs copied to the pipeline root;
#   - the same run again is all Cached, with no pod;
#   - a node that always fails is retried, then fails the run with its
#     message (and its log's last lines) in status;
#   - deleting a run deletes its pods;
#   - killing the operator (SIGKILL) mid-run and starting it again finishes
#     the run without redoing the nodes that had finished;
#   - an invalid PipelineRun is refused by the CRD's schema.
# Needs root (kubelet, containerd). Prints "ok - ..." / "not ok - ..." lines
# and "operator: N passed, N failed". WEIR_E2E_KEEP=1 keeps the work dir;
# WEIR_E2E_OPERATOR runs another weir-operator binary (a sanitizer build:
# its reports in the operator's log fail the run).
set -uo pipefail
build=$(cd "${1:?usage: e2e/operator.sh BUILD_DIR}" && pwd)
bin=$build/bin
op_bin=${WEIR_E2E_OPERATOR:-$bin/weir-operator}
[ "${op_bin#/}" != "$op_bin" ] || op_bin=$(pwd)/$op_bin
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
scripts=$repo/scripts
D=$(mktemp -d "${TMPDIR:-/tmp}/weir-kube-e2e.XXXXXX")
NS=ml
pass=0
fail=0
op_pid=
srv_pid=

ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { # DESCRIPTION CMD...
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
die() {
  not_ok "$*"
  finish
}
finish() {
  echo "operator: $pass passed, $fail failed"
  [ "$fail" -eq 0 ] && exit 0
  exit 1
}

cleanup() {
  for p in $op_pid $standby_pid $srv_pid; do kill -9 "$p" 2>/dev/null; done
  "$scripts/kube-node.sh" stop "$D/kube" >/dev/null 2>&1
  "$scripts/kube-env.sh" stop "$D/kube" >/dev/null 2>&1
  "$scripts/s3-server.sh" stop "$D/s3" >/dev/null 2>&1
  if [ "$fail" -eq 0 ] && [ "${WEIR_E2E_KEEP:-0}" != 1 ]; then
    rm -rf "$D"
  else
    echo "kube-e2e: logs kept in $D (operator-*.log, kube/*.log)"
  fi
}
trap cleanup EXIT

for b in weir weir-operator weir-server weir-example-gen weir-statistics-gen weir-schema-gen weir-example-validator; do
  [ -x "$bin/$b" ] || die "$bin/$b is missing; build it first"
done

# ---------------------------------------------------------------- setup
t0=$(date +%s)
"$scripts/build-images.sh" "$build" "$D/images" >"$D/images.log" 2>&1 ||
  { tail -30 "$D/images.log"; die "scripts/build-images.sh"; }
"$scripts/kube-env.sh" start "$D/kube" >"$D/kube-env.log" 2>&1 ||
  { tail -30 "$D/kube-env.log"; die "scripts/kube-env.sh start"; }
"$scripts/kube-node.sh" start "$D/kube" >"$D/kube-node.log" 2>&1 ||
  { tail -30 "$D/kube-node.log"; die "scripts/kube-node.sh start (kubelet over containerd)"; }
WEIR_KUBE_DIR=$D/kube "$scripts/kube-node.sh" import "$D"/images/*.tar >"$D/import.log" 2>&1 ||
  { tail -30 "$D/import.log"; die "importing the images into the node"; }
export KUBECONFIG=$D/kube/kubeconfig
# kubectl: the machine's, else the one built with the control plane
command -v kubectl >/dev/null || PATH=$PATH:$("$scripts/kube-env.sh" build 2>/dev/null)
node_ip=$(kubectl get node weir-node-0 -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
[ -n "$node_ip" ] || die "the node has no InternalIP"
# S3 on every address: pods reach it through the node's IP, the operator on 127.0.0.1
s3env=$(WEIR_S3_BIND=0.0.0.0 "$scripts/s3-server.sh" start "$D/s3" 2>"$D/s3.log") ||
  { cat "$D/s3.log"; die "scripts/s3-server.sh start"; }
# shellcheck disable=SC1090
. "$s3env"
s3_port=${WEIR_S3_ENDPOINT##*:}
bucket=$WEIR_S3_BUCKET
echo "# control plane, node, images and S3 ready after $(($(date +%s) - t0)) s (node $node_ip)"

s3() { # METHOD KEY [curl args]: the S3 API itself, SigV4 by curl
  local m=$1 k=$2
  shift 2
  curl -s -f -X "$m" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    "$@" "$WEIR_S3_ENDPOINT/$bucket/$k"
}
s3_keys() { # PREFIX: every key under it, one per line
  curl -s -f -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    "$WEIR_S3_ENDPOINT/$bucket?list-type=2&prefix=$(printf %s "$1" | sed 's|/|%2F|g')" |
    grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'
}
has_key() { s3_keys "$1" | grep -q -- "$2"; }
s3_get() { # KEY: the object's bytes on stdout
  curl -s -f -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    "$WEIR_S3_ENDPOINT/$bucket/$1"
}
export -f s3_get
export bucket
s3 PUT data/wa_churn.csv --data-binary "@$repo/examples/churn/data/wa_churn.csv" >/dev/null ||
  die "uploading wa_churn.csv to S3"

# CRDs, namespace, the operator's ServiceAccount and RBAC (not its
# Deployment: the operator runs here as a process, as that ServiceAccount)
kubectl apply -f "$repo/manifests/crds/weir.dev_pipelines.yaml" \
  -f "$repo/manifests/crds/weir.dev_pipelineruns.yaml" >/dev/null || die "applying the CRDs"
kubectl kustomize "$repo/manifests/base" >"$D/base.yaml" || die "kubectl kustomize manifests/base"
python3 - "$D/base.yaml" >"$D/rbac.yaml" <<'EOF'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
print("\n---\n".join(d for d in docs if "kind: Deployment" not in d and "kind: Service\n" not in d))
EOF
kubectl apply -f "$D/rbac.yaml" >/dev/null || die "applying manifests/base (RBAC, ServiceAccounts)"
kubectl wait --for condition=established --timeout=60s crd/pipelineruns.weir.dev crd/pipelines.weir.dev >/dev/null ||
  die "the CRDs are not Established"
kubectl create namespace "$NS" >/dev/null
kubectl -n "$NS" create serviceaccount weir-pipeline >/dev/null
kubectl -n "$NS" create secret generic weir-s3 \
  --from-literal=AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
  --from-literal=AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
  --from-literal=AWS_ENDPOINT_URL="http://$node_ip:$s3_port" \
  --from-literal=AWS_REGION="$AWS_REGION" \
  --from-literal=AWS_S3_ADDRESSING_STYLE=path >/dev/null || die "creating the S3 Secret"

token=$(kubectl -n weir-system create token weir-operator --duration=7200s) || die "a token for weir-operator"
server=$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}')
cat >"$D/operator.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "$server", certificate-authority: "$D/kube/pki/ca.crt"}
users:
- name: weir-operator
  user: {token: "$token"}
contexts:
- name: e2e
  context: {cluster: e2e, user: weir-operator, namespace: $NS}
current-context: e2e
EOF
check "the operator's ServiceAccount may not read Secrets" \
  test "$(kubectl auth can-i get secrets -n "$NS" --as=system:serviceaccount:weir-system:weir-operator)" = no

# weir-server holds the metadata; the operator publishes through its API
mkdir -p "$D/meta"
printf 'e2e-%s%s%s%s\n' "$RANDOM" "$RANDOM" "$RANDOM" "$RANDOM" >"$D/meta/token"
"$bin/weir-server" --store "$D/meta/metadata.sqlite" --listen 127.0.0.1:0 \
  --token-file "$D/meta/token" 2>"$D/weir-server.log" &
srv_pid=$!
srv_port=$("$scripts/weir-server-port.sh" "$D/weir-server.log") || { cat "$D/weir-server.log"; die "weir-server did not start"; }
meta_url=http://127.0.0.1:$srv_port
export WEIR_METADATA_TOKEN_FILE=$D/meta/token

op_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_operator() { # N PORT: replica N, /metrics on PORT; sets op_pid
  "$op_bin" --kubeconfig "$D/operator.kubeconfig" --namespace "$NS" \
    --metadata "$meta_url" --image-registry localhost --image-tag 0.1.0 \
    --image-pull-policy Never --s3-secret weir-s3 --pod-service-account weir-pipeline \
    --listen "127.0.0.1:$2" --retry-backoff 1 \
    --leader-elect --lease-namespace weir-system --identity "e2e-$1" >>"$D/operator-$1.log" 2>&1 &
  op_pid=$!
}
start_operator 1 "$op_port"

# ---------------------------------------------------------------- helpers
phase() { kubectl -n "$NS" get pipelinerun "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
node_field() { kubectl -n "$NS" get pipelinerun "$1" -o jsonpath="{.status.nodes.$2.$3}" 2>/dev/null; }
wait_phase() { # RUN SECONDS: until Succeeded or Failed; prints it
  local i p
  for ((i = 0; i < $2 * 2; i++)); do
    p=$(phase "$1")
    case "$p" in Succeeded|Failed) echo "$p"; return 0 ;; esac
    sleep 0.5
  done
  echo "${p:-none}"
}
wait_for() { # SECONDS CMD...: until CMD succeeds
  local n=$1 i
  shift
  for ((i = 0; i < n * 4; i++)); do "$@" && return 0; sleep 0.25; done
  return 1
}
pods_of() { kubectl -n "$NS" get pods -l "weir.dev/run=$1" -o name 2>/dev/null | wc -l; }
metadata_says() { "$bin/weir" runs show "$1" --store "$meta_url" 2>&1; }

check "/readyz answers ok" wait_for 30 sh -c "curl -sf http://127.0.0.1:$op_port/readyz | grep -q ok"

# ---------------------------------------------------------------- churn
{
  printf 'apiVersion: weir.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: churn, namespace: %s}\nspec:\n' "$NS"
  sed -e 's/^/  /' "$repo/examples/churn/pipeline.yaml"
} >"$D/pipeline.yaml"
run_churn() { # NAME ROOT
  cat <<EOF | kubectl apply -f - >/dev/null
apiVersion: weir.dev/v1alpha1
kind: PipelineRun
metadata: {name: $1, namespace: $NS}
spec:
  pipelineRef: {name: churn}
  params: {data: "s3://$bucket/data/wa_churn.csv"}
  root: "$2"
EOF
}
kubectl apply -f "$D/pipeline.yaml" >/dev/null || die "creating Pipeline churn"
nn=$(grep -c '^    - name:' "$repo/examples/churn/pipeline.yaml") # its nodes
t1=$(date +%s)
run_churn churn-1 "s3://$bucket/churn"
p=$(wait_phase churn-1 300)
check "churn-1 ($nn nodes, each a pod) Succeeded [$p after $(($(date +%s) - t1)) s]" test "$p" = Succeeded
check "churn-1 shows progress $nn/$nn" test "$(kubectl -n "$NS" get pipelinerun churn-1 -o jsonpath='{.status.progress}')" = "$nn/$nn"
check "churn-1 ran $nn pods, all Succeeded" test "$(kubectl -n "$NS" get pods -l weir.dev/run=churn-1 \
  -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c Succeeded)" = "$nn"
eg_out=$(node_field churn-1 example_gen outputs.examples)
check "example_gen's output is on S3 ($eg_out)" test "${eg_out#s3://}" != "$eg_out"
prefix=${eg_out#s3://$bucket/}
check "the examples are TFRecord shards on S3" has_key "$prefix" 'Split-train/data_tfrecord-00000-of-'
shard=$(s3_keys "$prefix" | grep 'Split-eval/data_tfrecord' | head -1)
n_eval=$("$bin/weir" tfrecord count "s3://$bucket/$shard" 2>/dev/null | awk -F'\t' '{print $2+0}')
check "weir reads the eval shard back from S3 ($n_eval records, every CRC checked)" test "${n_eval:-0}" -gt 1000
st_out=$(node_field churn-1 statistics_gen outputs.statistics)
check "FeatureStats.pb of the train split is on S3" has_key "${st_out#s3://$bucket/}" 'Split-train/FeatureStats.pb'
sc_out=$(node_field churn-1 schema_gen outputs.schema)
check "schema.pbtxt is on S3 with the churn domain (No, Yes)" bash -c 's3_get "$1" | grep -q "value: \"Yes\""' _ "${sc_out#s3://$bucket/}schema.pbtxt"
md=$(metadata_says "$(kubectl -n "$NS" get pipelinerun churn-1 -o jsonpath='{.status.runId}')")
echo "$md" | sed 's/^/    /' | head -12
check "weir-server has the run the operator published, $nn nodes Complete" \
  test "$(echo "$md" | grep -c -i 'complete')" -ge "$nn"
check "the operator opened its store through weir-server" \
  grep -q "$meta_url" "$D/operator-1.log"
runs_json=$(curl -sf "$meta_url/api/v1/runs")
check "weir-server's run list (the dashboard's view) has churn-1's run" \
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); r=[x for x in d["runs"] if x["run_id"] == sys.argv[2]]; sys.exit(0 if r and r[0]["state"] == "COMPLETE" and r[0]["nodes"]["complete"] == int(sys.argv[3]) else 1)' \
  "$runs_json" "$(kubectl -n "$NS" get pipelinerun churn-1 -o jsonpath='{.status.runId}')" "$nn"
check "the SQLite file behind weir-server holds the run" \
  sh -c '"$1" runs --store "$2" | grep -q "$3"' _ "$bin/weir" "$D/meta/metadata.sqlite" \
  "$(kubectl -n "$NS" get pipelinerun churn-1 -o jsonpath='{.status.runId}')"
tg_out=$(node_field churn-1 transform outputs.transform_graph)
check "the transform graph and its vocabularies are on S3" has_key "${tg_out#s3://$bucket/}" 'vocabularies/contract.txt'
mo_out=$(node_field churn-1 trainer outputs.model)
for f in model.json weights.safetensors model.onnx; do
  check "the trained model's $f is on S3" has_key "${mo_out#s3://$bucket/}" "Format-Serving/$f"
done
bl_out=$(node_field churn-1 evaluator outputs.blessing)
check "the Evaluator blessed it (BLESSED on S3)" has_key "${bl_out#s3://$bucket/}" '/BLESSED$'
ib_out=$(node_field churn-1 infra_validator outputs.blessing)
check "the InfraValidator pod served and queried it (INFRA_BLESSED on S3)" has_key "${ib_out#s3://$bucket/}" '/INFRA_BLESSED$'
pushed_version() { s3_keys churn/serving/ | grep -q '^churn/serving/[0-9]*/model.json$'; }
check "Pusher pushed a version to s3://$bucket/churn/serving/" pushed_version
log_key=$(s3_keys churn/example_gen/.system/ | grep 'logs/attempt-1.log' | head -1)
check "example_gen's pod log was copied to the pipeline root (${log_key:-none})" test -n "$log_key"
check "the copied log holds the component's output" bash -c 's3_get "$1" | grep -q CsvExampleGen' _ "$log_key"
check "no pod of churn-1 keeps the log-copy finalizer" \
  wait_for 20 sh -c "! kubectl -n $NS get pods -l weir.dev/run=churn-1 -o jsonpath='{.items[*].metadata.finalizers}' | grep -q log-copy"
check "Events were recorded on the run" \
  sh -c "kubectl -n $NS get events --field-selector involvedObject.name=churn-1 -o name | grep -q ."

# the same inputs again: every node is served from the cache, no pod runs
run_churn churn-2 "s3://$bucket/churn"
p=$(wait_phase churn-2 120)
check "churn-2 Succeeded" test "$p" = Succeeded
check "churn-2's nodes are all Cached" test "$(kubectl -n "$NS" get pipelinerun churn-2 \
  -o jsonpath='{range .status.nodes.*}{.state}{"\n"}{end}' | grep -c Cached)" = "$nn"
check "churn-2 created no pod" test "$(pods_of churn-2)" = 0

# ---------------------------------------------------------------- failure
cat <<EOF | kubectl apply -f - >/dev/null
apiVersion: weir.dev/v1alpha1
kind: PipelineRun
metadata: {name: always-fails, namespace: $NS}
spec:
  pipeline:
    name: always-fails
    root: "s3://$bucket/always-fails"
    components:
      - name: broken
        type: Executable
        image: "weir.test/pause:1"
        command: [sh, -c, "echo reading shard 7; echo 'disk quota gremlin ate the shard' >&2; exit 3"]
        retries: 1
        cache: false
EOF
p=$(wait_phase always-fails 120)
check "a node that always fails fails the run [$p]" test "$p" = Failed
msg=$(kubectl -n "$NS" get pipelinerun always-fails -o jsonpath='{.status.message}')
echo "    status.message: $(echo "$msg" | head -3)"
check "status.message names the node and its exit status" \
  sh -c "echo \"\$1\" | grep -q 'broken' && echo \"\$1\" | grep -q 'exited with status'" _ "$msg"
check "status.message quotes the pod's log" sh -c 'echo "$1" | grep -q "disk quota gremlin ate the shard"' _ "$msg"
check "it was tried twice (retries: 1), two pods" test "$(pods_of always-fails)" = 2
check "node broken says 2 attempts" test "$(node_field always-fails broken attempts)" = 2
# a finished run: its pods go through the garbage collector (ownerReferences);
# checked at the end, the collector notices new kinds within about 30 s
kubectl -n "$NS" delete pipelinerun always-fails --wait=false >/dev/null

# ---------------------------------------------------------------- deletion
cat <<EOF | kubectl apply -f - >/dev/null
apiVersion: weir.dev/v1alpha1
kind: PipelineRun
metadata: {name: sleepy, namespace: $NS}
spec:
  pipeline:
    name: sleepy
    root: "s3://$bucket/sleepy"
    components:
      - {name: nap, type: Executable, image: "weir.test/pause:1", command: [sh, -c, "exec sleep 600"], cache: false}
EOF
check "the sleepy node's pod is Running" wait_for 60 sh -c \
  "kubectl -n $NS get pods -l weir.dev/run=sleepy -o jsonpath='{.items[*].status.phase}' | grep -q Running"
kubectl -n "$NS" delete pipelinerun sleepy --wait=false >/dev/null
check "deleting the run deletes its pods" wait_for 90 sh -c "[ \$(kubectl -n $NS get pods -l weir.dev/run=sleepy -o name | wc -l) = 0 ]"

# ---------------------------------------------------------------- restart
# The churn pipeline with caching off, so that every node really runs.
{
  printf 'apiVersion: weir.dev/v1alpha1\nkind: PipelineRun\nmetadata: {name: churn-restart, namespace: %s}\nspec:\n' "$NS"
  printf '  params: {data: "s3://%s/data/wa_churn.csv"}\n  root: "s3://%s/churn-restart"\n' "$bucket" "$bucket"
  sed -e 's/^/  /' -e 's/^\(        type: .*\)$/\1\n        cache: false/' "$repo/examples/churn/pipeline.yaml"
} >"$D/restart.yaml"
kubectl apply -f "$D/restart.yaml" >/dev/null || die "creating churn-restart"
check "churn-restart: example_gen succeeds" wait_for 120 sh -c \
  "[ \"\$(kubectl -n $NS get pipelinerun churn-restart -o jsonpath='{.status.nodes.example_gen.state}')\" = Succeeded ]"
eg_exec=$(node_field churn-restart example_gen execution)
# a second replica, standing by for the Lease
op1=$op_pid
op_port2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_operator 2 "$op_port2"
standby_pid=$op_pid
op_pid=$op1
check "a second replica stands by for the Lease" \
  wait_for 30 grep -q "waiting to become the leader" "$D/operator-2.log"
exec 3>&2 2>/dev/null # no "Killed" job notice
kill -9 "$op_pid"
wait "$op_pid"
exec 2>&3 3>&-
echo "    leader killed (SIGKILL) with example_gen done (execution $eg_exec); the standby takes over when the Lease expires"
op_pid=$standby_pid
standby_pid=
p=$(wait_phase churn-restart 300)
check "churn-restart Succeeded after the leader was killed [$p]" test "$p" = Succeeded
check "the standby became the leader" grep -q "became the leader" "$D/operator-2.log"
check "example_gen kept its execution ($eg_exec), not rerun" \
  test "$(node_field churn-restart example_gen execution)" = "$eg_exec"
check "example_gen ran in exactly one pod" \
  test "$(kubectl -n "$NS" get pods -l weir.dev/run=churn-restart,weir.dev/node=example-gen -o name | wc -l)" = 1
check "the new leader logged the resume" grep -q "resumes: .* finished node execution" "$D/operator-2.log"

# ---------------------------------------------------------------- schema
bad=$(cat <<EOF | kubectl apply -f - 2>&1
apiVersion: weir.dev/v1alpha1
kind: PipelineRun
metadata: {name: both, namespace: $NS}
spec:
  pipelineRef: {name: churn}
  pipeline: {name: x, root: /tmp/x, components: [{name: a, type: StatisticsGen}]}
EOF
)
echo "    $bad"
check "an invalid PipelineRun is refused by the schema with a clear message" \
  sh -c "echo \"\$1\" | grep -q 'exactly one of spec.pipelineRef or spec.pipeline'" _ "$bad"

check "deleting a finished run deletes its pods (garbage collector)" \
  wait_for 120 sh -c "[ \$(kubectl -n $NS get pods -l weir.dev/run=always-fails -o name | wc -l) = 0 ]"
metrics=$(curl -s "http://127.0.0.1:$op_port2/metrics")
check "/metrics counts the pods created" sh -c "echo \"\$1\" | grep -q '^weir_operator_pods_created_total [1-9]'" _ "$metrics"
kill "$op_pid" 2>/dev/null
wait "$op_pid"
rc=$?
op_pid=
check "the operator stops cleanly on SIGTERM (exit $rc)" test "$rc" = 0
check "no sanitizer report in the operator's log" \
  sh -c "! grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' '$D'/operator-*.log"
kill "$srv_pid" 2>/dev/null
wait "$srv_pid"
rc=$?
srv_pid=
check "weir-server stops cleanly on SIGTERM (exit $rc), no 5xx answered" \
  sh -c 'test "$1" = 0 && ! grep -q " 5[0-9][0-9] " "$2"' _ "$rc" "$D/weir-server.log"
echo "# total $(($(date +%s) - t0)) s"
finish
