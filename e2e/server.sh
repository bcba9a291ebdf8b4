#!/usr/bin/env bash
# e2e/server.sh BUILD_DIR — weir-server end to end: the churn pipeline (the
# whole TFX pipeline, ten nodes) runs into a temporary root and store, then
# weir-server serves that store and curl + python3 check:
#   - the runs API: the run with 10 nodes Complete, its detail, a node log;
#   - lineage: the model's upstream reaches the Examples, the Examples'
#     downstream reaches the model;
#   - previews of Examples, ExampleStatistics, Schema, ExampleAnomalies,
#     ModelEvaluation, ModelRun, Model and ModelBlessing;
#   - paging (page_size=2 walks every artifact once), writes (401 without
#     the token, 201 with it), the body cap (413), static files without path
#     traversal (404), no CORS header by default; `weir ui` starts the server.
# Prints "ok"/"not ok" lines and "server: N passed, M failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:-build}" && pwd)/bin
cd "$repo"
work=$(mktemp -d "${TMPDIR:-/tmp}/weir-e2e-server.XXXXXX")
srv_pid=
srv2_pid=
ui_pid=
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
  [ -n "$srv2_pid" ] && kill "$srv2_pid" 2>/dev/null && wait "$srv2_pid" 2>/dev/null
  [ -n "$ui_pid" ] && kill "$ui_pid" 2>/dev/null && wait "$ui_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
pass=0
fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
# pyq EXPR FILE: python3 evaluates EXPR with d = the JSON in FILE; exit 0 when truthy
pyq() { python3 - "$2" "$1" <<'PY' 2>/dev/null
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

# --------------------------------------------------------------- the run
"$bin/weir" run examples/churn/pipeline.yaml --param root="$work/root" \
  --store "$work/m.sqlite" >"$work/run.log" 2>&1
check "the churn pipeline runs (10 complete)" grep -q "10 complete, 0 cached, 0 failed" "$work/run.log"

# ------------------------------------------------------------ the server
printf 'e2e-token-%s\n' "$RANDOM$RANDOM$RANDOM" >"$work/token"
token=$(head -1 "$work/token")
mkdir -p "$work/static/sub"
echo '<html>weir dashboard</html>' >"$work/static/index.html"
echo 'secret' >"$work/secret.txt"
"$bin/weir-server" --store "$work/m.sqlite" --listen 127.0.0.1:0 --token-file "$work/token" \
  --max-body-bytes 4096 --static-dir "$work/static" 2>"$work/server.log" &
srv_pid=$!
port=$(scripts/weir-server-port.sh "$work/server.log")
u="http://127.0.0.1:${port:-1}"
check "weir-server starts and answers /healthz" pyq "d['status'] == 'ok'" <(curl -sf "$u/healthz")
get() { curl -s -o "$work/$1" -w '%{http_code}' "$u$2"; }

code=$(get runs.json "/api/v1/runs")
run=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['runs'][0]['run_id'])" "$work/runs.json" 2>/dev/null)
check "run list: 200 with the run, 10 nodes, all Complete" \
  pyq "len(d['runs']) == 1 and d['runs'][0]['nodes']['total'] == 10 and d['runs'][0]['nodes']['complete'] == 10 and d['runs'][0]['state'] == 'COMPLETE'" "$work/runs.json"
check "run list filters by pipeline" pyq "d['runs'] == []" <(curl -s "$u/api/v1/runs?pipeline=nope")
get run.json "/api/v1/runs/$run" >/dev/null
check "run detail: 10 nodes Complete with execution ids, timing, inputs and outputs" \
  pyq "len(d['node_list']) == 10 and all(n['state'] == 'Complete' and n['execution_id'] > 0 and n['duration_s'] >= 0 and not n['cache_hit'] for n in d['node_list']) and [n for n in d['node_list'] if n['node'] == 'trainer'][0]['outputs']['model'][0]['type'] == 'Model' and 'examples' in [n for n in d['node_list'] if n['node'] == 'trainer'][0]['inputs']" "$work/run.json"
check "run detail: the trainer reports eval_auc" \
  pyq "[n for n in d['node_list'] if n['node'] == 'trainer'][0]['reported']['eval_auc'] > 0.7" "$work/run.json"
code=$(get trainer.log "/api/v1/runs/$run/nodes/trainer/log")
check "node log: the trainer's log is streamed (200, text)" test "$code" = 200 -a -s "$work/trainer.log"
check "node log: it is the log weir logs prints" cmp -s "$work/trainer.log" <("$bin/weir" logs "$run" trainer --store "$work/m.sqlite")
check "node log: an unknown node is 404" test "$(get x.json "/api/v1/runs/$run/nodes/nope/log")" = 404
check "an unknown run is 404 with an error message" \
  pyq "'no run' in d['error']" <(curl -s "$u/api/v1/runs/nope")

# -------------------------------------------------------------- lineage
model=$(python3 -c "import json,sys; print([n for n in json.load(open(sys.argv[1]))['node_list'] if n['node'] == 'trainer'][0]['outputs']['model'][0]['id'])" "$work/run.json")
examples=$(python3 -c "import json,sys; print([n for n in json.load(open(sys.argv[1]))['node_list'] if n['node'] == 'example_gen'][0]['outputs']['examples'][0]['id'])" "$work/run.json")
get up.json "/api/v1/artifacts/$model/lineage?direction=upstream" >/dev/null
check "lineage: upstream of the model reaches example_gen's Examples" \
  pyq "any(a['id'] == $examples and a['type'] == 'Examples' for a in d['artifacts']) and any(e['type'] == 'CsvExampleGen' for e in d['executions'])" "$work/up.json"
get down.json "/api/v1/artifacts/$examples/lineage?direction=downstream&depth=3" >/dev/null
check "lineage: downstream of the Examples reaches the model" \
  pyq "any(a['id'] == $model for a in d['artifacts']) and any(e['type'] == 'Trainer' for e in d['executions'])" "$work/down.json"
check "lineage: depth=1 upstream of the model stops at the trainer's inputs" \
  pyq "not any(a['id'] == $examples for a in d['artifacts']) and d['more']" <(curl -s "$u/api/v1/artifacts/$model/lineage?direction=upstream&depth=1")

# ------------------------------------------------------------- previews
aid() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print([n for n in d['node_list'] if n['node'] == sys.argv[2]][0]['outputs'][sys.argv[3]][0]['id'])" "$work/run.json" "$1" "$2"; }
preview() { curl -s "$u/api/v1/artifacts/$1/preview$2"; }
check "preview Examples: 3 rows of the eval split as tf.Example JSON" \
  pyq "d['split'] == 'eval' and len(d['rows']) == 3 and d['rows'][0]['tenure']['int64_list'] is not None" <(preview "$examples" "?split=eval&rows=3")
check "preview ExampleStatistics: 'tenure' has numeric stats and a histogram" \
  pyq "any(f['name'] == 'tenure' and f['numeric']['histograms'][0]['buckets'] and f['numeric']['max'] >= f['numeric']['mean'] for f in d['datasets'][0]['features'])" <(preview "$(aid statistics_gen statistics)" "")
check "preview ExampleStatistics: 'contract' has top values (categorical histogram)" \
  pyq "any(f['name'] == 'contract' and f['string']['top_values'][0]['value'] == 'Month-to-month' and f['string']['rank_histogram'] for f in d['datasets'][0]['features'])" <(preview "$(aid statistics_gen statistics)" "?split=train")
check "preview Schema: a table with 'contract' and its string domain" \
  pyq "any(f['name'] == 'contract' and 'Two year' in f['domain']['values'] for f in d['features'])" <(preview "$(aid schema_gen schema)" "")
check "preview ExampleAnomalies: per split, none found" \
  pyq "d['count'] == 0 and sorted(s['split'] for s in d['by_split']) == ['eval', 'train']" <(preview "$(aid example_validator anomalies)" "")
check "preview ModelEvaluation: the Overall slice and blessed true" \
  pyq "d['blessed'] is True and d['overall']['auc'] > 0.7 and any(s['slice_key'] == 'Overall' for s in d['metrics']['slices'])" <(preview "$(aid evaluator evaluation)" "")
check "preview ModelRun: training curves with an eval point" \
  pyq "len(d['points']) > 5 and any('eval' in p for p in d['points']) and d['metrics']['auc'] > 0.7" <(preview "$(aid trainer model_run)" "")
check "preview ModelRun: max_points down-samples the curve" \
  pyq "len(d['points']) <= 6" <(preview "$(aid trainer model_run)" "?max_points=5")
check "preview Model: a summary of model.json" \
  pyq "d['label'] == 'churn' and 'serving_default' in d['signatures'] and any(f['name'] == 'weights.safetensors' for f in d['files'])" <(preview "$model" "")
check "preview ModelBlessing: BLESSED" \
  pyq "d['blessed'] is True and d['file'] == 'BLESSED'" <(preview "$(aid evaluator blessing)" "")

# ---------------------------------------------------------- metadata API
check "artifacts?type=Model lists the model" \
  pyq "[a['id'] for a in d['artifacts']] == [$model]" <(curl -s "$u/api/v1/artifacts?type=Model")
check "artifacts/{id} has the artifact and its contexts" \
  pyq "d['artifact']['id'] == $model and any(c['type'] == 'pipeline_run' for c in d['contexts'])" <(curl -s "$u/api/v1/artifacts/$model")
check "events?artifact_id= lists the model's OUTPUT event" \
  pyq "any(e['type'] == 'OUTPUT' for e in d['events'])" <(curl -s "$u/api/v1/events?artifact_id=$model")
total=$(python3 -c "import json,sys; print(len(json.load(sys.stdin)['artifacts']))" < <(curl -s "$u/api/v1/artifacts?page_size=1000"))
python3 - "$u" "$total" >"$work/paging.txt" 2>&1 <<'PY'
import json, sys, urllib.request
u, total = sys.argv[1], int(sys.argv[2])
seen, token, pages = [], None, 0
while True:
    q = u + "/api/v1/artifacts?page_size=2" + ("&page_token=" + token if token else "")
    d = json.load(urllib.request.urlopen(q))
    assert len(d["artifacts"]) <= 2
    seen += [a["id"] for a in d["artifacts"]]
    pages += 1
    token = d.get("next_page_token")
    if not token or pages > 1000:
        break
print(total, len(seen), len(set(seen)), pages)
sys.exit(0 if len(seen) == total == len(set(seen)) and total > 10 and seen == sorted(seen) else 1)
PY
check "paging: page_size=2 walks all $total artifacts once, in order ($(cat "$work/paging.txt"))" test $? -eq 0
check "executions?context= lists the run's 10 executions" \
  pyq "len(d['executions']) == 10" <(curl -s "$u/api/v1/executions?context=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['context_id'])" "$work/run.json")")

# ---------------------------------------------------------------- writes
body='{"type": "Examples", "uri": "/tmp/elsewhere/examples/", "state": "LIVE", "custom_properties": {"note": "from the API"}}'
code=$(curl -s -o "$work/w1.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$body" "$u/api/v1/artifacts")
check "write without a token: 401" test "$code" = 401
code=$(curl -s -o "$work/w2.json" -w '%{http_code}' -X POST -H "Authorization: Bearer wrong-token-x" -d "$body" "$u/api/v1/artifacts")
check "write with a wrong token: 401" test "$code" = 401
code=$(curl -s -o "$work/w3.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" -d "$body" "$u/api/v1/artifacts")
new=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ids'][0])" "$work/w3.json" 2>/dev/null)
check "write with the token: 201 and a new id" test "$code" = 201 -a -n "$new"
check "the written artifact reads back" \
  pyq "d['artifact']['uri'] == '/tmp/elsewhere/examples/' and d['artifact']['custom_properties']['note'] == 'from the API'" <(curl -s "$u/api/v1/artifacts/$new")
pub='{"execution": {"type": "Pusher", "state": "COMPLETE"}, "artifacts": [{"artifact_id": '"$model"', "event": "INPUT", "path": [{"key": "model"}, {"index": 0}]}], "contexts": [{"type": "pipeline", "name": "churn"}]}'
code=$(curl -s -o "$work/w4.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" -d "$pub" "$u/api/v1/publish")
check "publish (MLMD PutExecution) with the token: 201, the pipeline context reused" \
  pyq "d['execution_id'] > 0 and d['context_ids'] == [1]" "$work/w4.json"
big=$(python3 -c "print('{\"type\": \"Examples\", \"uri\": \"' + 'x' * 5000 + '\"}')")
code=$(curl -s -o "$work/w5.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" -d "$big" "$u/api/v1/artifacts")
check "a body over --max-body-bytes: 413" test "$code" = 413
code=$(curl -s -o "$work/w6.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $token" -d '{"type": "NoSuchType"}' "$u/api/v1/artifacts")
check "a write naming an unknown type: 404 with {\"error\": ...}" pyq "'NoSuchType' in d['error']" "$work/w6.json"
test "$code" = 404 || not_ok "  (it was $code)"

# ------------------------------------------- publishing through the API
# weir run with --store http://...: the store over weir-server's API, as the
# operator uses it on a cluster (a second server, default body cap).
"$bin/weir-server" --store "$work/m2.sqlite" --listen 127.0.0.1:0 --token-file "$work/token" \
  2>"$work/server2.log" &
srv2_pid=$!
port2=$(scripts/weir-server-port.sh "$work/server2.log")
u2="http://127.0.0.1:${port2:-1}"
WEIR_METADATA_TOKEN_FILE=$work/token "$bin/weir" run examples/churn/pipeline.yaml \
  --param root="$work/root2" --store "$u2" >"$work/run2.log" 2>&1
check "weir run --store http://... publishes the churn run through the API (10 complete)" \
  grep -q "10 complete, 0 cached, 0 failed" "$work/run2.log"
WEIR_METADATA_TOKEN_FILE=$work/token "$bin/weir" run examples/churn/pipeline.yaml \
  --param root="$work/root2" --store "$u2" >"$work/run3.log" 2>&1
check "the same run again is all cached (the cache lookup through the API)" \
  grep -q "0 complete, 10 cached, 0 failed" "$work/run3.log"
# two runs at once, each changing the trainer: both publish, neither waits on a lock
pids=
for steps in 40 60; do
  WEIR_METADATA_TOKEN_FILE=$work/token "$bin/weir" run examples/churn/pipeline.yaml \
    --param root="$work/root2" --param train_steps=$steps --store "$u2" >"$work/run-$steps.log" 2>&1 &
  pids="$pids $!"
done
for p in $pids; do wait "$p"; done
check "two runs at once through the server both finish (5 cached, 5 complete each)" \
  sh -c 'grep -q "5 complete, 5 cached, 0 failed" "$1" && grep -q "5 complete, 5 cached, 0 failed" "$2"' \
  _ "$work/run-40.log" "$work/run-60.log"
check "the server's run list has the 4 runs" pyq "len(d['runs']) == 4" <(curl -s "$u2/api/v1/runs")
check "weir runs reads them back through the API" \
  test "$("$bin/weir" runs --store "$u2" 2>/dev/null | grep -c '^churn-')" = 4
WEIR_METADATA_TOKEN= "$bin/weir" run examples/churn/pipeline.yaml --param root="$work/root2" \
  --param train_steps=70 --store "$u2" >"$work/run-notoken.log" 2>&1
rc=$?
check "without the token weir run fails, saying where the token goes" \
  sh -c 'test "$1" -ne 0 && grep -q WEIR_METADATA_TOKEN "$2"' _ "$rc" "$work/run-notoken.log"
check "the SQLite file behind the server holds what was published (4 runs)" \
  test "$("$bin/weir" runs --store "$work/m2.sqlite" 2>/dev/null | grep -c '^churn-')" = 4
kill "$srv2_pid" 2>/dev/null
wait "$srv2_pid" 2>/dev/null

# ------------------------------------------------------- static and CORS
check "static: / serves index.html" grep -q "weir dashboard" <(curl -s "$u/")
code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$u/../secret.txt")
check "static: /../secret.txt is 404" test "$code" = 404
code=$(curl -s --path-as-is -o /dev/null -w '%{http_code}' "$u/sub/%2e%2e/%2e%2e/secret.txt")
check "static: encoded ../ is 404" test "$code" = 404
check "CORS: no Access-Control-Allow-Origin header by default" \
  bash -c "! curl -s -D - -o /dev/null -H 'Origin: http://evil.example' '$u/api/v1/runs' | grep -qi '^access-control-allow-origin'"

# ----------------------------------------------------------------- weir ui
uport=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$bin/weir" ui --store "$work/m.sqlite" --port "$uport" >"$work/ui.log" 2>&1 &
ui_pid=$!
ok_ui=1
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$uport/api/v1/runs" -o "$work/ui.json" && { ok_ui=0; break; }
  sleep 0.05
done
check "weir ui serves the local store with weir-server" test "$ok_ui" -eq 0 -a -s "$work/ui.json"

# the servers stop cleanly on SIGTERM, with no sanitizer report (ASan builds)
kill "$srv_pid" "$ui_pid" 2>/dev/null
wait "$srv_pid"
rc_srv=$?
wait "$ui_pid" 2>/dev/null
srv_pid=
ui_pid=
check "weir-server exits 0 on SIGTERM" test "$rc_srv" -eq 0
check "no sanitizer report from weir-server" \
  bash -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$work/server.log' '$work/server2.log' '$work/ui.log'"

echo "server: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
