#!/usr/bin/env bash
# e2e/transform.sh BIN_DIR — Transform end to end with `weir run`:
#   - the churn pipeline (examples/churn/pipeline.yaml) and an ames pipeline
#     (examples/ames/pipeline.yaml) run; for every example of every split,
#     the transform runtime applied online to the raw example
#     (`weir transform apply`) gives exactly the bytes the component wrote
#     offline;
#   - the graph and its vocabulary files are as documented;
#   - bad specs fail at `weir validate` with file:line and the feature.
# Prints "ok - ..." / "not ok - ..." and "transform: N passed, N failed".
set -uo pipefail
bin=$(cd "${1:?usage: e2e/transform.sh BIN_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/weir-transform-e2e.XXXXXX")
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
trap '[ "$fail" -eq 0 ] && rm -rf "$work" || echo "transform: work kept in $work"' EXIT
cd "$repo"

# same_bytes NAME ROOT: online == offline for every split of the run under ROOT
same_bytes() {
  local name=$1 root=$2 graph split raw out res all=0
  graph=$(ls -d "$root"/transform/transform_graph/*/ | head -1)
  for split in train eval; do
    raw=("$root"/example_gen/examples/*/Split-$split/*)
    out=("$root"/transform/transformed_examples/*/Split-$split/*)
    res=$("$bin/weir" transform apply "$graph" "${raw[@]}" --compare "${out[@]}" 2>&1)
    echo "    $name $split: $res"
    echo "$res" | grep -q " 0 different" || all=1
    echo "$res" | grep -Eq "^[1-9][0-9]* examples transformed" || all=1
  done
  return $all
}

for ex in churn ames; do
  root=$work/$ex
  if "$bin/weir" run "examples/$ex/pipeline.yaml" --param root="$root" --store "$work/$ex.sqlite" \
       >"$work/$ex.log" 2>&1; then
    ok "$ex pipeline with Transform runs"
  else
    tail -20 "$work/$ex.log"
    not_ok "$ex pipeline with Transform runs"
    continue
  fi
  check "$ex: online features == offline features, every example, every split" same_bytes "$ex" "$root"
  g=$(ls -d "$root"/transform/transform_graph/*/ | head -1)
  check "$ex: transform_graph.json says weir.transform/v1" grep -q '"schema":[[:space:]]*"weir.transform/v1"' "$g/transform_graph.json"
  check "$ex: a vocabulary file per vocabulary, most frequent first" \
    sh -c 'ls "$1"/vocabularies/*.txt >/dev/null 2>&1 && [ -s "$(ls "$1"/vocabularies/*.txt | head -1)" ]' _ "$g"
done

# user code (module_file): features computed across columns, then analyzed
lib=$(cd "$bin/../lib" 2>/dev/null && pwd)
mod=$work/libchurn_features.so
if [ -n "$lib" ] && cp "$lib/libchurn_features.so" "$mod" &&
   "$bin/weir" run examples/transform_udf/pipeline.yaml --param root="$work/udf" --param module="$mod" \
     --store "$work/udf.sqlite" >"$work/udf.log" 2>&1; then
  ok "the pipeline with user code (examples/transform_udf) runs"
  check "udf: online features == offline features, every example, every split" same_bytes udf "$work/udf"
  ug=$(ls -d "$work"/udf/transform/transform_graph/*/ | head -1)
  check "udf: the graph records the module's SHA-256" grep -q '"module_sha256"' "$ug/transform_graph.json"
  printf 'x' >>"$mod"
  out=$("$bin/weir" transform apply "$ug" "$work"/udf/example_gen/examples/*/Split-eval/* 2>&1)
  check "a changed module is refused when the graph loads" sh -c 'echo "$1" | grep -q "has changed since the transform graph was made"' _ "$out"
else
  tail -20 "$work/udf.log" 2>/dev/null
  not_ok "the pipeline with user code (examples/transform_udf) runs"
fi

# the thread count changes nothing: the same graph and the same bytes
same_threads() {
  local t r
  for t in 1 3; do
    r=$work/threads-$t
    WEIR_THREADS=$t "$bin/weir" run examples/ames/pipeline.yaml --param root="$r" \
      --store "$work/threads-$t.sqlite" >"$work/threads-$t.log" 2>&1 || return 1
    grep -q "$t thread(s)" "$r"/transform/.system/*/logs/attempt-1.log || return 1
  done
  cmp -s "$work"/threads-1/transform/transform_graph/*/transform_graph.json \
    "$work"/threads-3/transform/transform_graph/*/transform_graph.json || return 1
  for split in train eval; do
    cmp -s <(zcat "$work"/threads-1/transform/transformed_examples/*/Split-$split/*) \
      <(zcat "$work"/threads-3/transform/transformed_examples/*/Split-$split/*) || return 1
  done
}
check "1 thread or 3: the same graph and the same transformed bytes (ames)" same_threads

# churn's contract vocabulary: most frequent first, counted on the train split
g=$(ls -d "$work"/churn/transform/transform_graph/*/ | head -1)
check "churn: contract vocabulary in frequency order" \
  test "$(head -1 "$g/vocabularies/contract.txt")" = "Month-to-month"

# bad specs: every problem at once, with file:line and the feature
bad=$work/bad.yaml
cat >"$bad" <<EOF
pipeline:
  name: churn_bad
  root: $work/bad-root
  components:
    - name: example_gen
      type: CsvExampleGen
      params: {input: $repo/examples/churn/data/wa_churn.csv, missing: ["", "NA"]}
    - name: statistics_gen
      type: StatisticsGen
      inputs: {examples: example_gen.examples}
    - name: schema_gen
      type: SchemaGen
      inputs: {statistics: statistics_gen.statistics}
    - name: transform
      type: Transform
      inputs: {examples: example_gen.examples, schema: schema_gen.schema}
      params:
        features:
          - {name: a, input: tenure, ops: [scale_to_zscore]}
          - {name: b, input: monthly_charges, ops: [compute_and_apply_vocabulary]}
          - {name: c, input: contract, ops: [scale_to_z_score]}
          - {name: d, input: no_such_column, ops: [log1p]}
EOF
out=$("$bin/weir" validate "$bad" 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
check "weir validate refuses the bad spec (exit 2)" test "$rc" = 2
check "unknown op, with file:line and feature" sh -c 'echo "$1" | grep -q "bad.yaml:19:[0-9]*: .*feature a: unknown op .scale_to_zscore."' _ "$out"
check "a vocabulary on a float feature" sh -c 'echo "$1" | grep -q "bad.yaml:20:[0-9]*: .*feature b: compute_and_apply_vocabulary needs strings"' _ "$out"
check "an op on a feature of the wrong type" sh -c 'echo "$1" | grep -q "bad.yaml:21:[0-9]*: .*feature c: scale_to_z_score needs numbers"' _ "$out"
check "a missing input feature" sh -c 'echo "$1" | grep -q "bad.yaml:22:[0-9]*: .*feature d: input feature .no_such_column. does not exist"' _ "$out"
check "nothing ran" test ! -e "$work/bad-root"

echo "transform: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
