#!/usr/bin/env bash
# chart-test.sh — proves manifests/ (kustomize) and charts/weir (Helm)
# against a real kube-apiserver (scripts/kube-env.sh, stopped on exit):
#   - charts/weir/crds/ is byte-identical to manifests/crds/ (one source);
#   - helm lint --strict; helm template with default values, with a values
#     file that turns the options on (PVC, existingSecret, GPU placement,
#     watchNamespace) and with inline object-store settings;
#   - weir-server in the chart: rendered by default (SQLite on a PVC), with
#     postgresql.enabled=true (StatefulSet, headless Service, Secret) and with
#     an external store URL; conflicting store settings and short tokens fail;
#   - where the operator publishes metadata (metadata.store): through
#     weir-server by default (its URL, the token Secret mounted and named by
#     WEIR_METADATA_TOKEN_FILE, no metadata volume or claim), its own SQLite
#     file with metadata.store=sqlite; unknown stores and server mode without
#     a server fail;
#   - kubectl kustomize manifests, plain, with the metadata-pvc component,
#     with the server component (the counterpart of the chart's defaults),
#     and the example overlay manifests/examples/server (components server and
#     postgresql); metadata-pvc after server refuses to build;
#   - kubeconform -strict on everything rendered, with JSON schemas generated
#     from this apiserver's /openapi/v3 (the weir CRDs' included, once applied):
#     no schema is downloaded;
#   - the rendered chart applied to the apiserver: CRDs Established, the
#     Deployment accepted, the operator's pod template admitted under the
#     "restricted" Pod Security Standard, the RBAC exactly as documented
#     (kubectl auth can-i as the operator's and the component pods'
#     ServiceAccounts), invalid PipelineRuns rejected by the CRD's validation;
#   - weir-server's Deployment, Service and token Secret from the chart, its
#     pod (and PostgreSQL's) admitted under "restricted"; the server overlay
#     accepted by a server-side dry run;
#   - the kustomize output (base + components/server) and the chart's
#     defaults agree (RBAC rules, the operator's Deployment, the metrics
#     Service), as the apiserver stores them;
#   - a real `helm install` and `helm uninstall`.
# Needs go (>= 1.23), python3 and kubectl 1.32 (its kustomize renders
# manifests/); etcd and the Kubernetes binaries come from scripts/kube-env.sh.
# helm and kubeconform come from the Go module proxy (pinned), built once into
#   ${WEIR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir}/go/bin
# with GOPATH, GOMODCACHE and GOCACHE under .../go too, never in the clone.
#
# Prints one line per check, "ok - ..." or "not ok - ...", and ends with
# "chart: N passed, N failed". Exit status 0 only when every check passed.
set -u
HELM_VERSION=v3.17.4
KUBECONFORM_VERSION=v0.7.0

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${WEIR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir}
gobin=$cache/go/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/weir-chart.XXXXXX")
chart=$repo/charts/weir
pass=0
fail=0
n=0

cleanup() {
  "$here/kube-env.sh" stop "$work/env" >/dev/null 2>&1
  if [ "$fail" -eq 0 ]; then rm -rf "$work"; else echo "chart: logs and rendered files kept in $work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - $*"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $*"; fail=$((fail + 1)); }
finish() {
  echo "chart: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
  exit
}

# check DESC CMD...: ok when CMD exits 0; otherwise not ok and the tail of
# its output, indented.
check() {
  local desc=$1 log
  shift
  n=$((n + 1))
  log=$work/check-$n.log
  if "$@" >"$log" 2>&1; then
    ok "$desc"
  else
    not_ok "$desc"
    tail -25 "$log" | sed 's/^/    /'
  fi
}

# check_fails DESC PATTERN CMD...: ok when CMD fails and its output matches
# the extended regex PATTERN.
check_fails() {
  local desc=$1 pat=$2 log
  shift 2
  n=$((n + 1))
  log=$work/check-$n.log
  if "$@" >"$log" 2>&1; then
    not_ok "$desc (succeeded; expected a failure matching: $pat)"
    tail -10 "$log" | sed 's/^/    /'
  elif grep -Eq -- "$pat" "$log"; then
    ok "$desc"
  else
    not_ok "$desc (failed, but without: $pat)"
    tail -25 "$log" | sed 's/^/    /'
  fi
}

# check_eq DESC EXPECTED CMD...: ok when CMD prints EXPECTED (one line).
# Trailing blanks are ignored (jsonpath ranges leave one).
check_eq() {
  local desc=$1 want=$2 got err
  shift 2
  n=$((n + 1))
  err=$work/check-$n.err
  got=$("$@" 2>"$err" | sed 's/[[:space:]]*$//')
  if [ "$got" = "$want" ]; then
    ok "$desc"
  else
    not_ok "$desc"
    echo "    want: $want"
    echo "    got:  $(echo "$got" | head -5)"
    tail -5 "$err" | sed 's/^/    /'
  fi
}

# ---------------------------------------------------------------- tools

# install_tool NAME VERSION PACKAGE [LDFLAGS]: go install PACKAGE@VERSION
# into $gobin unless the stamped version is already there.
install_tool() {
  local name=$1 version=$2 pkg=$3 ldflags=${4:-} t0 tmp
  if [ -x "$gobin/$name" ] && [ "$(cat "$gobin/.$name-version" 2>/dev/null)" = "$version" ]; then
    ok "$name $version (cached in $gobin)"
    return 0
  fi
  if ! command -v go >/dev/null; then
    not_ok "$name $version: go is not installed (needed to build it from the Go module proxy)"
    return 1
  fi
  mkdir -p "$gobin" "$cache/go/pkg/mod" "$cache/go/build"
  tmp=$(mktemp -d "$gobin/.build-$name.XXXXXX")
  t0=$(date +%s)
  if GOPATH=$cache/go GOMODCACHE=$cache/go/pkg/mod GOCACHE=$cache/go/build GOBIN=$tmp \
      GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=0 \
      go install -trimpath -ldflags "-s -w $ldflags" "$pkg@$version" >"$work/build-$name.log" 2>&1 &&
    mv -f "$tmp/$name" "$gobin/$name"; then
    echo "$version" >"$gobin/.$name-version"
    rm -rf "$tmp"
    ok "$name $version (built in $(($(date +%s) - t0))s with $(go env GOVERSION))"
  else
    rm -rf "$tmp"
    not_ok "$name $version: go install $pkg@$version failed (log: $work/build-$name.log)"
    tail -15 "$work/build-$name.log" | sed 's/^/    /'
    return 1
  fi
}

# helm's version and its default Kubernetes version (for `helm template`
# and lint's deprecation checks) are set by its Makefile through -X; do the
# same, taking the Kubernetes minor from helm's own k8s.io/client-go.
helm_ldflags() {
  local gomod minor
  gomod=$(GOMODCACHE=$cache/go/pkg/mod GOFLAGS=-modcacherw GOTOOLCHAIN=local \
    go mod download -json "helm.sh/helm/v3@$HELM_VERSION" 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("GoMod",""))')
  minor=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod" 2>/dev/null | head -1)
  [ -n "$minor" ] || minor=32
  local f="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  f="$f -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  f="$f -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
  f="$f -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
  echo "$f"
}

# kubectl (with its built-in kustomize): from PATH, else one that
# scripts/kube-env.sh's cache holds.
if ! command -v kubectl >/dev/null; then
  for d in "$cache"/kube/*/bin; do
    [ -x "$d/kubectl" ] && PATH=$d:$PATH && break
  done
fi
if command -v kubectl >/dev/null; then
  ok "kubectl $(kubectl version --client 2>/dev/null | sed -n 's/^Client Version: //p') ($(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: /kustomize /p'))"
else
  not_ok "kubectl is not on PATH (nor in $cache/kube/*/bin); install kubectl 1.32"
  finish
fi

mkdir -p "$gobin"
exec 9>"$gobin/.chart-tools.lock"
flock 9
install_tool kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform || finish
install_tool helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm "$(helm_ldflags)" || finish
flock -u 9
helm=$gobin/helm
kubeconform=$gobin/kubeconform
# helm keeps its own state out of $HOME
export HELM_CACHE_HOME=$work/helm/cache HELM_CONFIG_HOME=$work/helm/config HELM_DATA_HOME=$work/helm/data

# ---------------------------------------------------------------- one source of CRDs

crds_identical() {
  local a b f rc=0
  a=$(cd "$repo/manifests/crds" && ls -- *.yaml | grep -v '^kustomization\.yaml$')
  b=$(cd "$chart/crds" && ls -- *.yaml)
  if [ "$a" != "$b" ]; then
    echo "manifests/crds: $(echo $a)"
    echo "charts/weir/crds: $(echo $b)"
    return 1
  fi
  for f in $a; do
    cmp -- "$repo/manifests/crds/$f" "$chart/crds/$f" || rc=1
  done
  grep -q "$(echo "$a" | head -1)" "$repo/manifests/crds/kustomization.yaml" || rc=1
  return $rc
}
check "charts/weir/crds/ is byte-identical to manifests/crds/ ($(ls "$chart/crds" | tr '\n' ' ' | sed 's/ $//'))" crds_identical

# ---------------------------------------------------------------- render

r=$work/render
mkdir -p "$r"
cat >"$work/values-options.yaml" <<'EOF'
# every option that changes what is rendered
image:
  registry: registry.test.internal:5000/weir
  tag: 0.1.0-test
replicas: 1
watchNamespace: ml
leaderElection:
  leaseName: weir-ml-leader
metadata:
  store: sqlite
  storage: pvc
  pvc:
    size: 5Gi
    storageClass: fast-ssd
objectStore:
  existingSecret: ml-object-store
componentImages:
  registry: registry.test.internal:5000/weir-components
  tag: 0.1.0-rc1
  pullPolicy: Always
podServiceAccount:
  name: ml-pipeline
gpu:
  nodeSelector:
    nvidia.com/gpu.present: "true"
    cloud.example.com/accelerator: h100
  tolerations:
    - key: nvidia.com/gpu
      value: present
      effect: NoSchedule
    - key: gpu-spot
      effect: NoExecute
maxRuns: 8
maxPods: 32
logFormat: text
nodeSelector:
  kubernetes.io/os: linux
tolerations:
  - key: dedicated
    operator: Equal
    value: control
    effect: NoSchedule
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              app.kubernetes.io/component: operator
metrics:
  service:
    annotations:
      prometheus.io/scrape: "true"
      prometheus.io/port: "8080"
EOF
secret_set=(--set objectStore.endpoint=http://minio.storage.svc:9000 --set objectStore.region=eu-west-1
  --set objectStore.accessKey=weir-access --set objectStore.secretKey=weir-secret-0123
  --set objectStore.addressingStyle=path)

check "helm lint --strict charts/weir" "$helm" lint --strict "$chart"
check "helm lint --strict charts/weir -f values-options.yaml" "$helm" lint --strict "$chart" -f "$work/values-options.yaml"
check "helm template (default values, --include-crds)" \
  sh -c '"$1" template weir "$2" --namespace weir-system --include-crds >"$3"' _ "$helm" "$chart" "$r/chart-default.yaml"
check "helm template -f values-options.yaml (PVC, existingSecret, GPU, watchNamespace)" \
  sh -c '"$1" template weir-ml "$2" --namespace weir-ml-system -f "$3" >"$4"' _ "$helm" "$chart" "$work/values-options.yaml" "$r/chart-options.yaml"
check "helm template with inline object-store settings" \
  sh -c 'out=$1; shift; "$@" >"$out"' _ "$r/chart-secret.yaml" "$helm" template weir "$chart" --namespace weir-system "${secret_set[@]}"
check_fails "helm template rejects metadata.storage=nfs (metadata.store=sqlite)" 'metadata.storage must be emptyDir or pvc' \
  "$helm" template weir "$chart" --set metadata.store=sqlite --set metadata.storage=nfs
check_fails "helm template rejects a GPU toleration without an effect" 'gpu.tolerations\[\].effect is required' \
  "$helm" template weir "$chart" --set 'gpu.tolerations[0].key=nvidia.com/gpu'
check "helm template with postgresql.enabled=true (StatefulSet, headless Service, Secret)" \
  sh -c '"$1" template weir-pg "$2" --namespace weir-pg --set postgresql.enabled=true >"$3"' _ "$helm" "$chart" "$r/chart-postgresql.yaml"
check "chart-postgresql: server uses the chart's PostgreSQL (PGPASSWORD), StatefulSet with volumeClaimTemplates, no SQLite claim" sh -c '
  grep -q -- "--store=postgresql://weir@weir-pg-postgresql:5432/weir" "$1" && grep -q "name: PGPASSWORD" "$1" &&
  grep -q "^kind: StatefulSet$" "$1" && grep -q "volumeClaimTemplates:" "$1" && grep -q "clusterIP: None" "$1" &&
  grep -q "image: \"postgres:15\"" "$1" && ! grep -q "name: weir-pg-server-data" "$1"' _ "$r/chart-postgresql.yaml"
check "helm template with an external store URL, token, readAuth, corsOrigin, maxBodyBytes" \
  sh -c '"$1" template weir "$2" --namespace weir-system --set server.store.url=postgresql://weir@db.example.com/weir \
    --set server.token=test-token-0123456789 --set server.readAuth=true --set server.corsOrigin=https://ui.example.com \
    --set server.maxBodyBytes=4194304 >"$3"' _ "$helm" "$chart" "$r/chart-external.yaml"
check "chart-external: server args from values, no PVC, no PostgreSQL" sh -c '
  grep -q -- "- --store=postgresql://weir@db.example.com/weir" "$1" && grep -q -- "- --read-auth" "$1" &&
  grep -q -- "- --cors-origin=https://ui.example.com" "$1" && grep -q -- "- --max-body-bytes=4194304" "$1" &&
  grep -q "token: \"$(printf %s test-token-0123456789 | base64)\"" "$1" &&
  ! grep -q "^kind: PersistentVolumeClaim$" "$1" && ! grep -q "^kind: StatefulSet$" "$1"' _ "$r/chart-external.yaml"
check "helm template with server.store.existingSecret and server.existingTokenSecret" \
  sh -c '"$1" template weir "$2" --namespace weir-system --set server.store.existingSecret=weir-db --set server.existingTokenSecret=my-token >"$3" &&
    grep -q -- "--store=\$(WEIR_STORE_URL)" "$3" && grep -q "secretName: my-token" "$3" && ! grep -q "name: weir-server-token" "$3"' \
  _ "$helm" "$chart" "$r/chart-store-secret.yaml"
check "helm template metadata.store=sqlite server.enabled=false renders no weir-server" \
  sh -c '"$1" template weir "$2" --set metadata.store=sqlite --set server.enabled=false >"$3" &&
    ! grep -q "weir-server\|WEIR_METADATA_TOKEN" "$3"' _ "$helm" "$chart" "$work/chart-no-server.yaml"
check_fails "helm template rejects server.store.url with postgresql.enabled" 'give at most one of server.store.url' \
  "$helm" template weir "$chart" --set server.store.url=postgresql://x@y/z --set postgresql.enabled=true
check_fails "helm template rejects a server.token under 8 characters" 'server.token must be at least 8 characters' \
  "$helm" template weir "$chart" --set server.token=short
# Where the operator publishes metadata (metadata.store). The server mode's
# wiring is checked on objects the apiserver returns, further down.
check "helm template with metadata.store=sqlite" \
  sh -c '"$1" template weir "$2" --namespace weir-system --set metadata.store=sqlite >"$3"' _ "$helm" "$chart" "$r/chart-sqlite.yaml"
check "helm template with server.existingTokenSecret=my-secret, existingTokenSecretKey=t" \
  sh -c '"$1" template weir "$2" --namespace weir-system --set server.existingTokenSecret=my-secret \
    --set server.existingTokenSecretKey=t >"$3"' _ "$helm" "$chart" "$r/chart-token-secret.yaml"
check "chart-default: no metadata claim or volume; the only claim is the server's" sh -c '
  ! grep -q "weir-operator-metadata" "$1" && ! grep -q "name: metadata$" "$1" &&
  [ "$(grep -A3 "^kind: PersistentVolumeClaim$" "$1" | sed -n "s/^  name: //p")" = weir-server-data ]' _ "$r/chart-default.yaml"
check "chart-sqlite: the operator's own file on an emptyDir; no token" sh -c '
  grep -q -- "- --metadata=/var/lib/weir/metadata.sqlite" "$1" && grep -q "name: metadata$" "$1" &&
  ! grep -q "WEIR_METADATA_TOKEN\|/etc/weir-operator" "$1"' _ "$r/chart-sqlite.yaml"
check "metadata.store=sqlite: the same operator with and without weir-server" sh -c '
  "$1" template weir "$2" --namespace weir-system --set metadata.store=sqlite --show-only templates/deployment.yaml >"$3.a" &&
  "$1" template weir "$2" --namespace weir-system --set metadata.store=sqlite --set server.enabled=false \
    --show-only templates/deployment.yaml >"$3.b" && diff "$3.a" "$3.b"' _ "$helm" "$chart" "$work/sqlite-deploy"
check "metadata.storage=pvc: claim weir-operator-metadata with metadata.store=sqlite, none with server" sh -c '
  "$1" template weir "$2" --set metadata.store=sqlite --set metadata.storage=pvc | grep -q "name: weir-operator-metadata$" &&
  ! "$1" template weir "$2" --set metadata.storage=pvc | grep -q "weir-operator-metadata"' _ "$helm" "$chart"
check_fails "helm template rejects server.enabled=false with metadata.store=server (the default)" \
  'metadata.store=server needs server.enabled=true; set metadata.store=sqlite to keep metadata in the operator.s own SQLite file' \
  "$helm" template weir "$chart" --set server.enabled=false
check_fails "helm template rejects metadata.store=nfs" 'metadata.store must be server or sqlite, not "nfs"' \
  "$helm" template weir "$chart" --set metadata.store=nfs
check "kubectl kustomize manifests" sh -c 'kubectl kustomize "$1" >"$2"' _ "$repo/manifests" "$r/kustomize.yaml"
mkdir -p "$work/overlay-pvc"
# kustomize takes only relative paths
rel=$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$repo/manifests" "$work/overlay-pvc")
cat >"$work/overlay-pvc/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $rel
components:
  - $rel/components/metadata-pvc
EOF
check "kubectl kustomize with components/metadata-pvc" sh -c 'kubectl kustomize "$1" >"$2"' _ "$work/overlay-pvc" "$r/kustomize-pvc.yaml"
# base + components/server: what the chart installs with default values (the
# operator publishing to weir-server, which keeps SQLite on a claim), so the
# chart is compared with this further down. manifests/examples/server adds
# PostgreSQL, which the chart's defaults do not.
mkdir -p "$work/overlay-server" "$work/overlay-server-pvc"
cat >"$work/overlay-server/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $rel
components:
  - $rel/components/server
EOF
check "kubectl kustomize with components/server (the chart's defaults)" \
  sh -c 'kubectl kustomize "$1" >"$2"' _ "$work/overlay-server" "$r/kustomize-server-sqlite.yaml"
{ cat "$work/overlay-server/kustomization.yaml"; echo "  - $rel/components/metadata-pvc"; } \
  >"$work/overlay-server-pvc/kustomization.yaml"
check_fails "kubectl kustomize refuses components/metadata-pvc after components/server (no metadata volume left)" \
  'metadata-pvc.*test failed' kubectl kustomize "$work/overlay-server-pvc"
check "kubectl kustomize manifests/examples/server (components server + postgresql)" \
  sh -c 'kubectl kustomize "$1" >"$2"' _ "$repo/manifests/examples/server" "$r/kustomize-server.yaml"
check "kustomize server overlay: Deployment, Service, token Secret, StatefulSet; store switched to PostgreSQL; no SQLite claim" sh -c '
  grep -q "^  name: weir-server$" "$1" && grep -q "^  name: weir-server-token-" "$1" && grep -q "^kind: StatefulSet$" "$1" &&
  grep -q -- "--store=postgresql://weir@weir-postgresql:5432/weir" "$1" &&
  grep -q "token: $(printf %s REPLACE-ME-weir-server-write-token | base64 -w0)" "$1" &&
  ! grep -q "weir-server-data" "$1"' _ "$r/kustomize-server.yaml"
check "kubectl kustomize manifests is unchanged by the components (no weir-server by default)" \
  sh -c '! grep -q "weir-server\|weir-postgresql" "$1"' _ "$r/kustomize.yaml"
check "kustomize metadata-pvc: 1 replica, Recreate, claim weir-operator-metadata" sh -c '
  grep -q "^  replicas: 1$" "$1" && grep -q "type: Recreate" "$1" &&
  grep -q "claimName: weir-operator-metadata" "$1" && grep -q "^kind: PersistentVolumeClaim$" "$1" &&
  ! grep -q "emptyDir: {}" "$1"' _ "$r/kustomize-pvc.yaml"

# ---------------------------------------------------------------- control plane

if ! "$here/kube-env.sh" start "$work/env" >"$work/env-start.log" 2>&1; then
  tail -40 "$work/env-start.log" | sed 's/^/    /'
  not_ok "scripts/kube-env.sh start"
  finish
fi
ok "control plane up ($(cat "$work/env/server"))"
export KUBECONFIG=$work/env/kubeconfig
k() { kubectl --request-timeout=30s "$@"; }
# established CRD...: waits up to 60s for condition Established=True on each
# (kubectl wait fails outright on an object that has no conditions yet).
established() {
  local c i
  for c in "$@"; do
    for ((i = 0; i < 240; i++)); do
      [ "$(k get crd "$c" -o 'jsonpath={.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" = True ] && break
      sleep 0.25
    done
    [ "$i" -lt 240 ] || { echo "$c is not Established"; k get crd "$c" -o 'jsonpath={.status}'; return 1; }
  done
}

check "kubectl apply -f charts/weir/crds/" k apply -f "$chart/crds/"
check "CRDs pipelines.weir.dev and pipelineruns.weir.dev are Established" \
  established pipelines.weir.dev pipelineruns.weir.dev

# ---------------------------------------------------------------- schemas from the apiserver

# gen-schemas OUT: one strict JSON schema per kind served by the apiserver,
# from /openapi/v3, at OUT/<group or "v1">/<version>/<kind>.json — the
# layout kubeconform's -schema-location template below expects. Strict:
# objects with properties allow no others unless the schema says
# x-kubernetes-preserve-unknown-fields. Refs become #/definitions/...
cat >"$work/gen-schemas.py" <<'PY'
import json, os, subprocess, sys, time

out = sys.argv[1]
need = sys.argv[2:]  # group-version paths that must be served, e.g. apis/weir.dev/v1alpha1

def get(path):
    return json.loads(subprocess.run(["kubectl", "get", "--raw", path], check=True,
                                     capture_output=True, text=True).stdout)

for _ in range(120):  # CRDs reach /openapi/v3 a moment after they are Established
    index = get("/openapi/v3")["paths"]
    if all(p in index for p in need):
        break
    time.sleep(0.5)
else:
    sys.exit("not in /openapi/v3: " + ", ".join(p for p in need if p not in index))

REF = "#/components/schemas/"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = [{"type": "string"}, {"type": "integer"}]
DROP = {"description", "format", "example", "externalDocs", "nullable",
        "x-kubernetes-group-version-kind", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type", "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key",
        "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
        "x-kubernetes-embedded-resource", "x-kubernetes-validations", "x-kubernetes-unions"}

def conv(s):
    """One schema node (never a properties map)."""
    if not isinstance(s, dict):
        return s
    if "$ref" in s:
        return {"$ref": "#/definitions/" + s["$ref"][len(REF):]}
    o = {}
    for k, v in s.items():
        if k in DROP:
            continue
        if k == "properties":
            o[k] = {name: conv(p) for name, p in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            o[k] = [conv(x) for x in v] if isinstance(v, list) else conv(v)
        elif k in ("allOf", "anyOf", "oneOf"):
            o[k] = [conv(x) for x in v]
        else:
            o[k] = v
    if s.get("x-kubernetes-int-or-string") or s.get("format") == "int-or-string":
        o.pop("type", None)
        o["oneOf"] = INT_OR_STRING
    if s.get("nullable") and isinstance(o.get("type"), str):
        o["type"] = [o["type"], "null"]
    if "properties" in o and "additionalProperties" not in o \
            and not s.get("x-kubernetes-preserve-unknown-fields"):
        o["additionalProperties"] = False
    return o

def refs(s, acc):
    if isinstance(s, dict):
        if isinstance(s.get("$ref"), str) and s["$ref"].startswith(REF):
            acc.add(s["$ref"][len(REF):])
        for k, v in s.items():
            if k != "$ref":
                refs(v, acc)
    elif isinstance(s, list):
        for v in s:
            refs(v, acc)

count = 0
for path, entry in sorted(index.items()):
    parts = path.split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        continue
    schemas = get(entry["serverRelativeURL"]).get("components", {}).get("schemas", {})
    for name, s in schemas.items():
        for gvk in s.get("x-kubernetes-group-version-kind", []):
            if gvk.get("group", "") != group or gvk.get("version") != version:
                continue
            closure, todo = set(), [name]
            while todo:
                d = todo.pop()
                if d in closure or d not in schemas:
                    continue
                closure.add(d)
                acc = set()
                refs(schemas[d], acc)
                todo.extend(acc)
            defs = {}
            for d in sorted(closure):
                defs[d] = {"oneOf": [{"type": "string"}, {"type": "number"}]} if d == QUANTITY else conv(schemas[d])
            root = dict(defs[name])
            root["definitions"] = defs
            root["$schema"] = "http://json-schema.org/draft-04/schema#"
            d = os.path.join(out, group or version, version)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, gvk["kind"].lower() + ".json"), "w") as f:
                json.dump(root, f, separators=(",", ":"), sort_keys=True)
            count += 1
print(f"{count} schemas from {len(index)} OpenAPI v3 documents")
PY
schemas=$work/schemas
check "JSON schemas generated from the apiserver's /openapi/v3 (weir.dev/v1alpha1 included)" \
  python3 "$work/gen-schemas.py" "$schemas" apis/weir.dev/v1alpha1 api/v1 apis/apps/v1 apis/rbac.authorization.k8s.io/v1
check "schemas for Pipeline and PipelineRun exist" \
  test -s "$schemas/weir.dev/v1alpha1/pipelinerun.json" -a -s "$schemas/weir.dev/v1alpha1/pipeline.json"

kc() {
  "$kubeconform" -strict -summary -output text \
    -schema-location "$schemas/{{ .Group }}/{{ .ResourceAPIVersion }}/{{ .ResourceKind }}.json" "$@"
}
for f in chart-default chart-options chart-secret chart-postgresql chart-external chart-store-secret chart-sqlite \
  chart-token-secret kustomize kustomize-pvc kustomize-server-sqlite kustomize-server; do
  check "kubeconform -strict $f.yaml ($(grep -c '^kind:' "$r/$f.yaml") objects)" kc "$r/$f.yaml"
done
check "kubeconform -strict manifests/examples/object-store-secret.yaml" kc "$repo/manifests/examples/object-store-secret.yaml"

cat >"$work/run-valid.yaml" <<'EOF'
apiVersion: weir.dev/v1alpha1
kind: PipelineRun
metadata:
  name: churn-valid
  namespace: ml
spec:
  params: {train_steps: 5000}
  root: s3://ml-artifacts/churn
  pipeline:
    name: churn
    root: s3://ml-artifacts/churn
    components:
      - name: example_gen
        type: CsvExampleGen
        params: {input_base: s3://ml-data/churn}
      - name: trainer
        type: Trainer
        inputs: {examples: example_gen.examples}
        resources: {gpu: 1, cpu: 4, memory: 8Gi}
        timeout: 2h
        retries: 2
---
apiVersion: weir.dev/v1alpha1
kind: Pipeline
metadata:
  name: churn
  namespace: ml
spec:
  pipeline:
    name: churn
    root: s3://ml-artifacts/churn
    components:
      - name: example_gen
        type: CsvExampleGen
EOF
check "kubeconform -strict accepts a valid PipelineRun and Pipeline (CRD schemas)" kc "$work/run-valid.yaml"
sed 's/^  root: s3/  rooot: s3/' "$work/run-valid.yaml" >"$work/run-unknown-field.yaml"
check_fails "kubeconform -strict rejects a PipelineRun with an unknown field" 'rooot' kc "$work/run-unknown-field.yaml"
sed 's/^      containers:$/      containerz:/' "$r/kustomize.yaml" >"$work/deploy-typo.yaml"
check_fails "kubeconform -strict rejects a Deployment with a misspelt field" 'containerz' kc "$work/deploy-typo.yaml"

# ---------------------------------------------------------------- kustomize on the apiserver (dry run)

check "kubectl create namespace weir-system" k create namespace weir-system
check "kubectl apply --dry-run=server -k manifests" \
  sh -c 'kubectl apply --dry-run=server -f "$1" -o json >"$2"' _ "$r/kustomize.yaml" "$work/kustomize-dry.json"
check "kubectl apply --dry-run=server (manifests + metadata-pvc)" k apply --dry-run=server -f "$r/kustomize-pvc.yaml"
check "kubectl apply --dry-run=server (manifests + components/server)" \
  sh -c 'kubectl apply --dry-run=server -f "$1" -o json >"$2"' _ "$r/kustomize-server-sqlite.yaml" "$work/kustomize-server-sqlite-dry.json"
check "kubectl apply --dry-run=server (manifests/examples/server)" \
  sh -c 'kubectl apply --dry-run=server -f "$1" -o json >"$2"' _ "$r/kustomize-server.yaml" "$work/kustomize-server-dry.json"

# pod-from-template FILE: the first Deployment's pod template in FILE (JSON
# from kubectl) as a Pod; with "insecure", without any securityContext.
cat >"$work/pod-from-template.py" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
items = doc.get("items", [doc])
want = sys.argv[3] if len(sys.argv) > 3 else None  # KIND/NAME; default: the first Deployment
match = (lambda i: i.get("kind") + "/" + i["metadata"]["name"] == want) if want else \
    (lambda i: i.get("kind") == "Deployment")
dep = next(i for i in items if match(i))
spec = dep["spec"]["template"]["spec"]
# a StatefulSet's pods get its volumeClaimTemplates as claims data-<sts>-<n>
for t in dep["spec"].get("volumeClaimTemplates", []):
    spec.setdefault("volumes", []).append({"name": t["metadata"]["name"], "persistentVolumeClaim": {
        "claimName": t["metadata"]["name"] + "-" + dep["metadata"]["name"] + "-0"}})
if len(sys.argv) > 2 and sys.argv[2] == "insecure":
    spec.pop("securityContext", None)
    for c in spec["containers"]:
        c.pop("securityContext", None)
print(json.dumps({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "pss-check", "namespace": dep["metadata"]["namespace"]},
                  "spec": spec}))
PY
# pss.sh FILE(JSON) [insecure]: creates (dry run) that Pod in its namespace,
# where Pod Security admission judges it.
cat >"$work/pss.sh" <<EOF
#!/bin/sh
python3 "$work/pod-from-template.py" "\$@" >"\$1.pod" && kubectl create --dry-run=server -f "\$1.pod"
EOF
chmod +x "$work/pss.sh"
check "label weir-system pod-security.kubernetes.io/enforce=restricted" \
  k label namespace weir-system pod-security.kubernetes.io/enforce=restricted --overwrite

# ---------------------------------------------------------------- the chart on the apiserver

check "kubectl apply the rendered chart (default values)" k apply -f "$r/chart-default.yaml"
check "CRDs still Established after the chart apply" \
  established pipelines.weir.dev pipelineruns.weir.dev
check_eq "Deployment weir-system/weir-operator accepted: 2 replicas, image localhost/weir-operator:0.1.0" \
  "2 localhost/weir-operator:0.1.0" \
  k -n weir-system get deploy weir-operator -o 'jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}'
check_eq "operator args: all namespaces, metadata to weir-server, leader election, defaults" \
  '--metadata=http://weir-server.weir-system.svc:8080 --image-registry=localhost --image-tag=0.1.0 --image-pull-policy=IfNotPresent --listen=:8080 --leader-elect --lease-name=weir-operator --lease-namespace=$(POD_NAMESPACE) --max-runs=256 --max-pods=512 --s3-secret=weir-object-store --pod-service-account=weir-pipeline --log-format=json' \
  k -n weir-system get deploy weir-operator -o 'jsonpath={range .spec.template.spec.containers[0].args[*]}{@} {end}'
check_eq "probes /healthz and /readyz on port http (8080); /tmp is an emptyDir; rolling updates" \
  "/healthz /readyz 8080 tmp:{\"sizeLimit\":\"256Mi\"} RollingUpdate" \
  k -n weir-system get deploy weir-operator -o 'jsonpath={.spec.template.spec.containers[0].livenessProbe.httpGet.path} {.spec.template.spec.containers[0].readinessProbe.httpGet.path} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.template.spec.volumes[?(@.name=="tmp")].name}:{.spec.template.spec.volumes[?(@.name=="tmp")].emptyDir} {.spec.strategy.type}'
# metadata-wiring.py FILE: where the operator Deployment in FILE (JSON from
# kubectl) keeps its metadata, on one line: its --metadata; the file
# WEIR_METADATA_TOKEN_FILE names, followed through its volumeMount to the
# Secret and key it comes from ("none" without the variable, "unresolved"
# when no mount or Secret item holds that file); every volume with its kind.
cat >"$work/metadata-wiring.py" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
dep = next(i for i in doc.get("items", [doc])
           if i.get("kind") == "Deployment" and i["metadata"]["name"].endswith("-operator"))
spec = dep["spec"]["template"]["spec"]
c = spec["containers"][0]
out = [a for a in c.get("args", []) if a.startswith("--metadata=")]
env = {e["name"]: e for e in c.get("env", [])}
vols = {v["name"]: v for v in spec.get("volumes", [])}
tok = env.get("WEIR_METADATA_TOKEN_FILE", {}).get("value")
where = "none"
if tok:
    where = tok + " unresolved"
    for m in c.get("volumeMounts", []):
        top = m["mountPath"].rstrip("/") + "/"
        sec = vols.get(m["name"], {}).get("secret")
        if tok.startswith(top) and sec:
            rel = tok[len(top):]
            items = {i["path"]: i["key"] for i in sec.get("items", [])}
            key = items.get(rel) if items else rel
            if key:
                where = "%s <- %s/%s%s" % (tok, sec["secretName"], key, " (ro)" if m.get("readOnly") else "")
print(" ".join(out), "token:", where, "volumes:",
      " ".join(v["name"] + ":" + next(k for k in v if k != "name") for v in spec.get("volumes", [])))
PY
check_eq "operator publishes to weir-server: token file from Secret weir-server-token (read-only); no metadata volume" \
  '--metadata=http://weir-server.weir-system.svc:8080 token: /etc/weir-operator/server-token/token <- weir-server-token/token (ro) volumes: server-token:secret tmp:emptyDir' \
  sh -c 'kubectl -n weir-system get deploy weir-operator -o json >"$1" && python3 "$2" "$1"' _ "$work/chart-deploy.json" "$work/metadata-wiring.py"
check_eq "metadata.store=sqlite: the operator's own SQLite file on an emptyDir, no token" \
  '--metadata=/var/lib/weir/metadata.sqlite token: none volumes: metadata:emptyDir tmp:emptyDir' \
  sh -c '"$1" template weir "$2" --namespace weir-system --set metadata.store=sqlite --show-only templates/deployment.yaml |
    kubectl create --dry-run=client -o json -f - >"$3" && python3 "$4" "$3"' \
  _ "$helm" "$chart" "$work/sqlite-deploy.json" "$work/metadata-wiring.py"
check_eq "server.existingTokenSecret=my-secret, key t: the operator reads my-secret's key t" \
  '--metadata=http://weir-server.weir-system.svc:8080 token: /etc/weir-operator/server-token/t <- my-secret/t (ro) volumes: server-token:secret tmp:emptyDir' \
  sh -c '"$1" template weir "$2" --namespace weir-system --show-only templates/deployment.yaml \
    --set server.existingTokenSecret=my-secret --set server.existingTokenSecretKey=t |
    kubectl create --dry-run=client -o json -f - >"$3" && python3 "$4" "$3"' \
  _ "$helm" "$chart" "$work/token-secret-deploy.json" "$work/metadata-wiring.py"
# kustomize's secretGenerator appends a hash of the token to the Secret's
# name (and rewrites the reference), so the pods roll when the token changes.
for f in kustomize-server-sqlite kustomize-server; do
  check_eq "kustomize ($f): the operator publishes to weir-server with the generated token Secret" \
    '--metadata=http://weir-server.weir-system.svc:8080 token: /etc/weir-operator/server-token/token <- weir-server-token-HASH/token (ro) volumes: server-token:secret tmp:emptyDir' \
    sh -c 'python3 "$1" "$2" | sed -E "s/weir-server-token-[a-z0-9]{10}\//weir-server-token-HASH\//"' _ "$work/metadata-wiring.py" "$work/$f-dry.json"
done
check_eq "kustomize (base): the operator's own SQLite file on an emptyDir, no token" \
  '--metadata=/var/lib/weir/metadata.sqlite token: none volumes: metadata:emptyDir tmp:emptyDir' \
  python3 "$work/metadata-wiring.py" "$work/kustomize-dry.json"
check_eq "Service weir-operator-metrics: port metrics 8080 -> http" "metrics 8080 http" \
  k -n weir-system get svc weir-operator-metrics -o 'jsonpath={.spec.ports[0].name} {.spec.ports[0].port} {.spec.ports[0].targetPort}'
check "chart: the operator's pod template passes the restricted Pod Security Standard" \
  sh -c 'kubectl -n weir-system get deploy weir-operator -o json >"$1" && "$2" "$1"' _ "$work/chart-deploy.json" "$work/pss.sh"
check "kustomize: the operator's pod template passes the restricted Pod Security Standard" \
  "$work/pss.sh" "$work/kustomize-dry.json"
check "kustomize (+ components/server): the operator's pod template passes the restricted Pod Security Standard" \
  "$work/pss.sh" "$work/kustomize-server-sqlite-dry.json" "" Deployment/weir-operator
# The two ways to install must not drift apart: compare what the apiserver
# made of the chart with its dry run of the kustomize output. The chart's
# defaults publish the operator's metadata through weir-server, so their
# counterpart is base + components/server, not base alone (which keeps the
# operator's own SQLite file, as metadata.store=sqlite does).
cat >"$work/same.py" <<'PY'
import json, re, sys
kust = {(o["kind"], o["metadata"]["name"]): o for o in json.load(open(sys.argv[1]))["items"]}
chart = {(o["kind"], o["metadata"]["name"]): o for o in (json.load(open(f)) for f in sys.argv[2:])}
def pod(o):
    s = json.loads(json.dumps(o["spec"]["template"]["spec"]))
    # kustomize's generated Secret carries a hash suffix; the chart's does not
    for v in s.get("volumes", []):
        if "secret" in v:
            v["secret"]["secretName"] = re.sub(r"^(weir-server-token)-[a-z0-9]{10}$", r"\1", v["secret"]["secretName"])
    c = s["containers"][0]
    return {k: c.get(k) for k in ("args", "env", "ports", "livenessProbe", "readinessProbe", "resources",
                                  "securityContext", "volumeMounts", "imagePullPolicy", "image")} | \
           {"pod." + k: s.get(k) for k in ("securityContext", "volumes", "serviceAccountName")} | \
           {"replicas": o["spec"]["replicas"]}
pairs = [
    ("ClusterRole weir-operator rules", lambda m: m[("ClusterRole", "weir-operator")]["rules"]),
    ("Role weir-operator-leader-election rules", lambda m: m[("Role", "weir-operator-leader-election")]["rules"]),
    ("Deployment weir-operator", lambda m: pod(m[("Deployment", "weir-operator")])),
    ("Service ports", lambda m: m[("Service", "weir-operator-metrics")]["spec"]["ports"]),
]
bad = 0
for what, get in pairs:
    a, b = get(kust), get(chart)
    if a != b:
        bad += 1
        print(what + " differ:\n  kustomize: " + json.dumps(a, sort_keys=True) + "\n  chart:     " + json.dumps(b, sort_keys=True))
sys.exit(1 if bad else 0)
PY
check "kustomize and chart agree (ClusterRole and lease Role rules, operator Deployment, Service ports)" sh -c '
  kubectl get clusterrole weir-operator -o json >"$1/c1.json" &&
  kubectl -n weir-system get role weir-operator-leader-election -o json >"$1/c2.json" &&
  kubectl -n weir-system get svc weir-operator-metrics -o json >"$1/c3.json" &&
  python3 "$1/same.py" "$1/kustomize-server-sqlite-dry.json" "$1/chart-deploy.json" "$1/c1.json" "$1/c2.json" "$1/c3.json"' _ "$work"
# weir-server from the chart (default values: SQLite on a PVC)
check_eq "chart: Deployment weir-server (1 replica, Recreate, image localhost/weir-server:0.1.0), Service weir-server, Secret weir-server-token" \
  "1 Recreate localhost/weir-server:0.1.0 ClusterIP http 8080 token" \
  sh -c 'echo "$(kubectl -n weir-system get deploy weir-server -o "jsonpath={.spec.replicas} {.spec.strategy.type} {.spec.template.spec.containers[0].image}") $(kubectl -n weir-system get svc weir-server -o "jsonpath={.spec.type} {.spec.ports[0].name} {.spec.ports[0].port}") $(kubectl -n weir-system get secret weir-server-token -o "jsonpath={.data}" | python3 -c "import json,sys; print(\" \".join(sorted(json.load(sys.stdin))))")"'
check_eq "chart: weir-server args (SQLite on claim weir-server-data, token file, dashboard)" \
  '--store=/var/lib/weir-server/metadata.sqlite --listen=0.0.0.0:8080 --token-file=/etc/weir-server/token --static-dir=/usr/local/share/weir/dashboard' \
  k -n weir-system get deploy weir-server -o 'jsonpath={range .spec.template.spec.containers[0].args[*]}{@} {end}'
check_eq "chart: weir-server probes /healthz, read-only root, volumes token/data/tmp" \
  "/healthz /healthz true weir-server-token weir-server-data 64Mi" \
  k -n weir-system get deploy weir-server -o 'jsonpath={.spec.template.spec.containers[0].livenessProbe.httpGet.path} {.spec.template.spec.containers[0].readinessProbe.httpGet.path} {.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem} {.spec.template.spec.volumes[0].secret.secretName} {.spec.template.spec.volumes[1].persistentVolumeClaim.claimName} {.spec.template.spec.volumes[2].emptyDir.sizeLimit}'
check_eq "chart: the generated write token is 32 characters" 32 \
  sh -c 'kubectl -n weir-system get secret weir-server-token -o "jsonpath={.data.token}" | base64 -d | wc -c'
check "chart: weir-server's pod template passes the restricted Pod Security Standard" \
  sh -c 'kubectl -n weir-system get deploy weir-server -o json >"$1" && "$2" "$1" "" Deployment/weir-server' _ "$work/chart-server.json" "$work/pss.sh"
check "kustomize: weir-server's and PostgreSQL's pod templates pass the restricted Pod Security Standard" \
  sh -c '"$1" "$2" "" Deployment/weir-server && "$1" "$2" "" StatefulSet/weir-postgresql' _ "$work/pss.sh" "$work/kustomize-server-dry.json"
check "kubectl create namespace weir-pg (restricted)" sh -c \
  'kubectl create namespace weir-pg && kubectl label namespace weir-pg pod-security.kubernetes.io/enforce=restricted'
check "kubectl apply the rendered chart with postgresql.enabled=true" k apply -f "$r/chart-postgresql.yaml"
check_eq "postgresql: StatefulSet, headless Service, 24-character password, server reads it" \
  "weir-pg-postgresql None 24 weir-pg-postgresql" \
  sh -c 'echo "$(kubectl -n weir-pg get sts weir-pg-postgresql -o "jsonpath={.spec.serviceName}") $(kubectl -n weir-pg get svc weir-pg-postgresql -o "jsonpath={.spec.clusterIP}") $(kubectl -n weir-pg get secret weir-pg-postgresql -o "jsonpath={.data.password}" | base64 -d | wc -c) $(kubectl -n weir-pg get deploy weir-pg-server -o "jsonpath={.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name}")"'
check "chart: PostgreSQL's pod template passes the restricted Pod Security Standard" \
  sh -c 'kubectl -n weir-pg get sts weir-pg-postgresql -o json >"$1" && "$2" "$1" "" StatefulSet/weir-pg-postgresql' _ "$work/chart-pg.json" "$work/pss.sh"
check_fails "the restricted Pod Security Standard rejects that pod without its securityContext (the check is real)" \
  'violates PodSecurity' "$work/pss.sh" "$work/chart-deploy.json" insecure
check_eq "ServiceAccount weir-pipeline mounts no API token" "false" \
  k -n weir-system get sa weir-pipeline -o 'jsonpath={.automountServiceAccountToken}'
check_eq "Secret weir-object-store exists with no keys (no object-store values given)" "Opaque" \
  k -n weir-system get secret weir-object-store -o 'jsonpath={.type} {.data}'

# ---------------------------------------------------------------- RBAC

op=system:serviceaccount:weir-system:weir-operator
can() { # NS ARGS...: prints yes/no
  local ns=$1
  shift
  k auth can-i --as="$op" -n "$ns" "$@" 2>/dev/null
}
for ns in ml weir-system; do
  for v in get list watch update patch; do
    check_eq "operator may $v pipelineruns.weir.dev in $ns" yes can "$ns" "$v" pipelineruns.weir.dev
  done
done
for v in get update patch; do
  check_eq "operator may $v pipelineruns.weir.dev/status" yes can ml "$v" pipelineruns.weir.dev --subresource=status
done
check_eq "operator may update pipelineruns.weir.dev/finalizers" yes can ml update pipelineruns.weir.dev --subresource=finalizers
for v in get list watch; do
  check_eq "operator may $v pipelines.weir.dev" yes can ml "$v" pipelines.weir.dev
done
for v in get list watch create delete patch; do
  check_eq "operator may $v pods" yes can ml "$v" pods
done
check_eq "operator may get pods/log" yes can ml get pods --subresource=log
for v in create patch; do
  check_eq "operator may $v events (core)" yes can ml "$v" events
  check_eq "operator may $v events.events.k8s.io" yes can ml "$v" events.events.k8s.io
done
check_eq "operator may create leases in weir-system" yes can weir-system create leases.coordination.k8s.io
for v in get update; do
  check_eq "operator may $v lease weir-system/weir-operator" yes can weir-system "$v" leases.coordination.k8s.io/weir-operator
done
# and nothing else
while read -r ns args; do
  # shellcheck disable=SC2086
  check_eq "operator may not $args (-n $ns)" no can "$ns" $args
done <<'EOF'
ml get secrets
weir-system list secrets
ml create pods --subresource=exec
ml create pods --subresource=eviction
ml create deployments.apps
ml update pods
ml deletecollection pods
ml create pipelineruns.weir.dev
ml delete pipelineruns.weir.dev
ml update pipelines.weir.dev
ml create pipelines.weir.dev
ml get configmaps
ml create serviceaccounts
ml create serviceaccounts --subresource=token
ml get events
ml delete events.events.k8s.io
weir-system delete leases.coordination.k8s.io/weir-operator
weir-system get leases.coordination.k8s.io/another-lease
ml create leases.coordination.k8s.io
default create rolebindings.rbac.authorization.k8s.io
default update customresourcedefinitions.apiextensions.k8s.io
EOF
check_eq "operator may not list nodes (cluster scope)" no k auth can-i --as="$op" list nodes

# The component pods' ServiceAccount may do exactly what any authenticated
# identity may (self-reviews, discovery): compare with one that exists nowhere.
pipe=system:serviceaccount:weir-system:weir-pipeline
check "weir-pipeline has no permissions beyond any authenticated identity (auth can-i --list)" sh -c '
  for ns in weir-system ml; do
    kubectl auth can-i --list -n "$ns" --as="$1" >"$3.a" 2>&1 || exit 1
    kubectl auth can-i --list -n "$ns" --as="$2" >"$3.b" 2>&1 || exit 1
    diff "$3.b" "$3.a" || exit 1
  done' _ "$pipe" system:serviceaccount:weir-system:weir-no-such-account "$work/canlist"
for args in "get pods" "create pods" "get secrets" "get pipelineruns.weir.dev" "get configmaps" "create leases.coordination.k8s.io"; do
  # shellcheck disable=SC2086
  check_eq "weir-pipeline may not $args" no k auth can-i --as="$pipe" -n weir-system $args
done

# ---------------------------------------------------------------- CRD validation

check "kubectl create namespace ml" k create namespace ml
check "a valid Pipeline and PipelineRun are accepted" k apply -f "$work/run-valid.yaml"
cat >"$work/run-both.yaml" <<'EOF'
apiVersion: weir.dev/v1alpha1
kind: PipelineRun
metadata: {name: both, namespace: ml}
spec:
  pipelineRef: {name: churn}
  pipeline:
    name: churn
    root: s3://ml-artifacts/churn
    components: [{name: example_gen, type: CsvExampleGen}]
EOF
check_fails "PipelineRun with both pipelineRef and pipeline is rejected" \
  'exactly one of spec.pipelineRef or spec.pipeline must be set' k apply -f "$work/run-both.yaml"
cat >"$work/run-neither.yaml" <<'EOF'
apiVersion: weir.dev/v1alpha1
kind: PipelineRun
metadata: {name: neither, namespace: ml}
spec:
  params: {train_steps: 10}
EOF
check_fails "PipelineRun with neither pipelineRef nor pipeline is rejected" \
  'exactly one of spec.pipelineRef or spec.pipeline must be set' k apply -f "$work/run-neither.yaml"
cat >"$work/run-badtype.yaml" <<'EOF'
apiVersion: weir.dev/v1alpha1
kind: PipelineRun
metadata: {name: badtype, namespace: ml}
spec:
  pipeline:
    name: churn
    root: s3://ml-artifacts/churn
    components:
      - {name: trainer, type: Trainer, retries: three, resources: {gpu: "1"}}
EOF
check_fails "PipelineRun with mistyped fields (retries: three, gpu: \"1\") is rejected" \
  'spec.pipeline.components\[0\].retries: Invalid value: "string": .*must be of type integer' \
  k apply -f "$work/run-badtype.yaml"
check_fails "PipelineRun with an invalid node name is rejected" 'spec.pipeline.components\[0\].name: Invalid value' \
  sh -c 'sed "s/name: trainer,/name: Trainer-1,/" "$1" | sed "s/retries: three, resources: {gpu: \"1\"}/retries: 1/" |
    kubectl apply -f -' _ "$work/run-badtype.yaml"

# ---------------------------------------------------------------- object-store Secret from values

check "kubectl apply the chart with inline object-store settings (upgrade of the default)" k apply -f "$r/chart-secret.yaml"
check_eq "Secret weir-object-store carries the five keys from values" \
  "AWS_ACCESS_KEY_ID=weir-access AWS_ENDPOINT_URL=http://minio.storage.svc:9000 AWS_REGION=eu-west-1 AWS_S3_ADDRESSING_STYLE=path AWS_SECRET_ACCESS_KEY=weir-secret-0123" \
  sh -c 'kubectl -n weir-system get secret weir-object-store -o json |
    python3 -c "import base64,json,sys; d=json.load(sys.stdin)[\"data\"]; print(\" \".join(k+\"=\"+base64.b64decode(v).decode() for k,v in sorted(d.items())))"'

# ---------------------------------------------------------------- the options release

check "kubectl create namespace weir-ml-system" k create namespace weir-ml-system
check "kubectl apply the rendered chart (values-options.yaml)" k apply -f "$r/chart-options.yaml"
check_eq "options: operator args (watchNamespace, PVC path, registries, GPU, limits, text logs)" \
  '--namespace=ml --metadata=/var/lib/weir/metadata.sqlite --image-registry=registry.test.internal:5000/weir-components --image-tag=0.1.0-rc1 --image-pull-policy=Always --listen=:8080 --leader-elect --lease-name=weir-ml-leader --lease-namespace=$(POD_NAMESPACE) --max-runs=8 --max-pods=32 --s3-secret=ml-object-store --pod-service-account=ml-pipeline --gpu-node-selector=cloud.example.com/accelerator=h100 --gpu-node-selector=nvidia.com/gpu.present=true --gpu-toleration=nvidia.com/gpu=present:NoSchedule --gpu-toleration=gpu-spot:NoExecute --log-format=text' \
  k -n weir-ml-system get deploy weir-ml-operator -o 'jsonpath={range .spec.template.spec.containers[0].args[*]}{@} {end}'
check_eq "options: 1 replica, Recreate, image, metadata on claim weir-ml-operator-metadata" \
  "1 Recreate registry.test.internal:5000/weir/weir-operator:0.1.0-test weir-ml-operator-metadata" \
  k -n weir-ml-system get deploy weir-ml-operator -o 'jsonpath={.spec.replicas} {.spec.strategy.type} {.spec.template.spec.containers[0].image} {.spec.template.spec.volumes[0].persistentVolumeClaim.claimName}'
check_eq "options: operator nodeSelector, tolerations and affinity" \
  "linux dedicated kubernetes.io/hostname" \
  k -n weir-ml-system get deploy weir-ml-operator -o 'jsonpath={.spec.template.spec.nodeSelector.kubernetes\.io/os} {.spec.template.spec.tolerations[0].key} {.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey}'
check_eq "options: PVC 5Gi, storageClass fast-ssd, ReadWriteOnce, kept on uninstall" \
  "5Gi fast-ssd ReadWriteOnce keep" \
  k -n weir-ml-system get pvc weir-ml-operator-metadata -o 'jsonpath={.spec.resources.requests.storage} {.spec.storageClassName} {.spec.accessModes[0]} {.metadata.annotations.helm\.sh/resource-policy}'
check_eq "options: existingSecret, so the chart made no object-store Secret (only weir-server's token)" "secret/weir-ml-server-token" \
  sh -c 'kubectl get secrets -A -l app.kubernetes.io/instance=weir-ml -o name'
check_eq "options: ServiceAccount ml-pipeline created in the watched namespace ml" "false" \
  k -n ml get sa ml-pipeline -o 'jsonpath={.automountServiceAccountToken}'
check_eq "options: no ClusterRole (a Role in ml instead)" "ml/weir-ml-operator" \
  sh -c 'kubectl get clusterrole weir-ml-operator -o name 2>/dev/null; kubectl -n ml get role weir-ml-operator -o "jsonpath={.metadata.namespace}/{.metadata.name}"'
check_eq "options: metrics Service annotations" "true" \
  k -n weir-ml-system get svc weir-ml-operator-metrics -o 'jsonpath={.metadata.annotations.prometheus\.io/scrape}'
mlop=system:serviceaccount:weir-ml-system:weir-ml-operator
check_eq "options: operator may create pods in ml" yes k auth can-i --as="$mlop" -n ml create pods
check_eq "options: operator may watch pipelineruns.weir.dev in ml" yes k auth can-i --as="$mlop" -n ml watch pipelineruns.weir.dev
check_eq "options: operator may not create pods in default" no k auth can-i --as="$mlop" -n default create pods
check_eq "options: operator may not list pipelineruns.weir.dev in weir-system" no k auth can-i --as="$mlop" -n weir-system list pipelineruns.weir.dev
check_eq "options: operator may update its lease weir-ml-system/weir-ml-leader" yes \
  k auth can-i --as="$mlop" -n weir-ml-system update leases.coordination.k8s.io/weir-ml-leader
check_eq "options: operator may not update lease weir-ml-system/weir-operator" no \
  k auth can-i --as="$mlop" -n weir-ml-system update leases.coordination.k8s.io/weir-operator

# ---------------------------------------------------------------- helm install / uninstall

check "helm install weir-helm (watchNamespace=weir-helm, --create-namespace)" \
  "$helm" install weir-helm "$chart" -n weir-helm --create-namespace --set watchNamespace=weir-helm --timeout 60s
check_eq "helm status weir-helm: deployed" deployed \
  sh -c '"$1" status weir-helm -n weir-helm -o json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"info\"][\"status\"])"' _ "$helm"
check_eq "helm install made Deployment weir-helm/weir-helm-operator" "weir-helm-operator" \
  k -n weir-helm get deploy weir-helm-operator -o 'jsonpath={.metadata.name}'
check "helm uninstall weir-helm" "$helm" uninstall weir-helm -n weir-helm --timeout 60s
check_eq "helm uninstall removed the Deployment, Secret and Roles; CRDs stay" \
  "0 2" sh -c 'echo "$(kubectl -n weir-helm get deploy,secret,role,rolebinding,sa -l app.kubernetes.io/instance=weir-helm -o name | wc -l) $(kubectl get crd -o name | grep -c weir.dev)"'

finish
