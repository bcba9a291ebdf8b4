#!/usr/bin/env bash
# bench_transform.sh — weir-transform's analyze and apply throughput (rows/s)
# on wa_churn.csv replicated to SIZE_MB, with the transform
# bench/bench_transform_tft.py gives tensorflow-transform: scale_to_z_score
# on every numeric column, compute_and_apply_vocabulary on every string
# column. With TFT_PYTHON (a python with tensorflow-transform, e.g. the
# interop venv's) the same transform runs in tensorflow-transform on Beam's
# DirectRunner on TFT_SIZE_MB of the same rows, and the ratios are printed
# (same-rate comparison: each side's rows/s on its own input size).
#
#   bench/bench_transform.sh                       # build/bin, 200 MB
#   TFT_PYTHON=~/.cache/weir/venv-interop-*/bin/python bench/bench_transform.sh
#
# ExampleGen and StatisticsGen/SchemaGen run first and are not timed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${WEIR_BIN:-$ROOT/build/bin}
SIZE_MB=${SIZE_MB:-200}
TFT_SIZE_MB=${TFT_SIZE_MB:-20}
WORK=${WORK:-/tmp/weir-bench-transform}
SRC=$ROOT/examples/churn/data/wa_churn.csv
mkdir -p "$WORK"
[ -x "$BIN/weir-transform" ] || { echo "no $BIN/weir-transform: build first" >&2; exit 2; }

CSV=$WORK/churn_${SIZE_MB}mb.csv
if [ ! -f "$CSV" ]; then
  python3 - "$SRC" "$CSV" "$SIZE_MB" <<'EOF'
import os, sys
src, out, mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = open(src, "rb").read()
header, body = data.split(b"\n", 1)
if not body.endswith(b"\n"):
    body += b"\n"
with open(out + ".tmp", "wb") as f:
    f.write(header + b"\n")
    n = 0
    while n < mb * 1e6:
        f.write(body)
        n += len(body)
os.replace(out + ".tmp", out)
EOF
fi
ROWS=$(($(wc -l <"$CSV") - 1))
echo "input: $CSV, $(stat -c %s "$CSV") bytes, $ROWS rows; $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"

num="female senior_citizen partner dependents tenure phone_service paperless_billing monthly_charges total_charges"
str="churn multiple_lines internet_service online_security online_backup device_protection tech_support streaming_tv streaming_movies contract payment_method"
{
  cat <<EOF
pipeline:
  name: bench_transform
  root: $WORK/pipeline-root
  components:
    - name: example_gen
      type: CsvExampleGen
      params: {input: $CSV, splits: {train: 1}, missing: ["", "NA"]}
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
EOF
  for c in $num; do echo "          - {name: ${c}_z, input: $c, ops: [scale_to_z_score]}"; done
  for c in $str; do echo "          - {name: ${c}_id, input: $c, ops: [compute_and_apply_vocabulary]}"; done
} >"$WORK/pipeline.yaml"
rm -rf "$WORK/pipeline-root" "$WORK/meta.sqlite"
"$BIN/weir" run "$WORK/pipeline.yaml" --store "$WORK/meta.sqlite" >"$WORK/run.log" 2>&1 ||
  { tail -20 "$WORK/run.log"; exit 1; }
log=$(ls "$WORK"/pipeline-root/transform/.system/*/logs/attempt-1.log)
line=$(grep '^analyzed ' "$log")
echo "weir: $line"
an_s=$(echo "$line" | sed -n 's/.*pass(es), \([0-9.]*\) s;.*/\1/p')
ap_s=$(echo "$line" | sed -n 's/.* in \([0-9.]*\) s;.*/\1/p')
w_an=$(echo "$ROWS / $an_s" | bc -l)
w_ap=$(echo "$ROWS / $ap_s" | bc -l)
printf 'weir  analyze %10.0f rows/s (%.2f s)   apply %10.0f rows/s (%.2f s, gzip TFRecords written)\n' \
  "$w_an" "$an_s" "$w_ap" "$ap_s"

[ -n "${TFT_PYTHON:-}" ] || { echo "(TFT_PYTHON unset: tensorflow-transform side skipped)"; exit 0; }
echo "tensorflow-transform on $TFT_SIZE_MB MB of the same rows (DirectRunner):"
"$TFT_PYTHON" "$ROOT/bench/bench_transform_tft.py" "$SRC" --mb "$TFT_SIZE_MB" --workdir "$WORK" | tee "$WORK/tft.txt"
t_an=$(sed -n 's/.*analyze.* \([0-9.]*\) rows\/s.*/\1/p' "$WORK/tft.txt" | head -1)
t_ap=$(sed -n 's/.*apply.* \([0-9.]*\) rows\/s.*/\1/p' "$WORK/tft.txt" | head -1)
if [ -n "$t_an" ] && [ -n "$t_ap" ]; then
  printf 'ratio weir/tft: analyze %.1fx, apply %.1fx (rows/s; weir on %s MB, tft on %s MB)\n' \
    "$(echo "$w_an / $t_an" | bc -l)" "$(echo "$w_ap / $t_ap" | bc -l)" "$SIZE_MB" "$TFT_SIZE_MB"
fi
