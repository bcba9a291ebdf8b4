#!/usr/bin/env bash
# bench_example_gen.sh — weir-example-gen (CsvExampleGen) on a >= 1 GB CSV:
# MB/s and rows/s (wall and per CPU-second), peak RSS, for threads=1 and the
# default thread count; optionally TFX's CsvExampleGen executor (Beam
# DirectRunner) on a smaller CSV of the same rows, with WEIR_TFX=1 or when
# WEIR_TFX_PYTHON names a Python with tfx installed.
#
# The CSV is examples/churn/data/wa_churn.csv replicated (header once) up to
# SIZE_MB. Everything goes under WORK (default /tmp/weir-bench-example-gen).
#
#   bench/bench_example_gen.sh                      # build/bin, 1024 MB
#   WEIR_BUILD=build-rel SIZE_MB=2048 bench/bench_example_gen.sh
#   WEIR_TFX=1 bench/bench_example_gen.sh            # + TFX, TFX_SIZE_MB=100
#   WEIR_TFX_PYTHON=/path/to/venv/bin/python TFX_SIZE_MB=100 bench/bench_example_gen.sh
#
# WEIR_TFX=1 without WEIR_TFX_PYTHON builds a venv from PyPI with the pins in
# bench/requirements-tfx.txt and bench/requirements-tfx-nodeps.txt (base
# interpreter WEIR_TFX_BASE_PYTHON, default python3, 3.11), cached under
# WEIR_TFX_VENV_CACHE (default ~/.cache/weir) as venv-tfx-<hash of both files>.
# TFX_BEAM_ARGS passes Beam pipeline args (default: none, i.e. the default
# DirectRunner).
#
# Use a Release build: a sanitizer build is several times slower.
set -euo pipefail

ROOT=${WEIR_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${WEIR_BUILD:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BIN=${WEIR_EXAMPLE_GEN_BIN:-$BUILD/bin/weir-example-gen}
WORK=${WORK:-/tmp/weir-bench-example-gen}
SIZE_MB=${SIZE_MB:-1024}
TFX_SIZE_MB=${TFX_SIZE_MB:-100}
SRC=$ROOT/examples/churn/data/wa_churn.csv

[ -x "$BIN" ] || { echo "no $BIN: build weir-example-gen first (ninja -C $BUILD weir-example-gen)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time: apt-get install time)" >&2; exit 2; }
mkdir -p "$WORK"

# The Python for the TFX run: WEIR_TFX_PYTHON, or with WEIR_TFX=1 a venv built
# from bench/requirements-tfx*.txt and cached by their hash.
TFX_PY=${WEIR_TFX_PYTHON:-}
if [ -z "$TFX_PY" ] && [ "${WEIR_TFX:-0}" = 1 ]; then
    req=$ROOT/bench/requirements-tfx.txt
    req_nodeps=$ROOT/bench/requirements-tfx-nodeps.txt
    base_py=${WEIR_TFX_BASE_PYTHON:-python3}
    key=$( { cat "$req" "$req_nodeps"; "$base_py" -c 'import sys; print(sys.version)'; } |
        sha256sum | cut -c1-16)
    cache=${WEIR_TFX_VENV_CACHE:-$HOME/.cache/weir}
    venv=$cache/venv-tfx-$key
    # .complete marks a finished build; anything else is rebuilt.
    if [ ! -f "$venv/.complete" ]; then
        echo "building $venv (log: $venv.log)"
        mkdir -p "$cache"
        rm -rf "$venv"
        { "$base_py" -m venv "$venv" &&
          "$venv/bin/pip" install --disable-pip-version-check -r "$req" &&
          "$venv/bin/pip" install --disable-pip-version-check --no-deps \
              --ignore-requires-python -r "$req_nodeps" &&
          "$venv/bin/python" -c 'from tfx.components.example_gen.csv_example_gen import executor' &&
          "$venv/bin/pip" freeze > "$venv/.complete"
        } > "$venv.log" 2>&1 || {
            tail -20 "$venv.log" >&2; rm -rf "$venv"; echo "building $venv failed" >&2; exit 1; }
    fi
    TFX_PY=$venv/bin/python
fi

make_csv() { # make_csv OUT MB
    local out=$1 mb=$2
    if [ -f "$out" ] && [ "$(stat -c %s "$out")" -ge $((mb * 1000000)) ]; then return; fi
    python3 - "$SRC" "$out" "$mb" <<'EOF'
import sys
src, out, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
header, body = data.split(b"\n", 1)
if not body.endswith(b"\n"):
    body += b"\n"
with open(out + ".tmp", "wb") as f:
    f.write(header + b"\n")
    n = 0
    while n < mb * 1000000:
        f.write(body)
        n += len(body)
import os
os.replace(out + ".tmp", out)
EOF
}

CSV=$WORK/churn_${SIZE_MB}mb.csv
make_csv "$CSV" "$SIZE_MB"
BYTES=$(stat -c %s "$CSV")
ROWS=$(($(wc -l < "$CSV") - 1))
echo "input: $CSV, $BYTES bytes, $ROWS rows; $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"

run_weir() { # run_weir LABEL PARAMS_JSON [TYPE] [INPUT_BYTES] [ROWS]
    local label=$1 params=$2 type=${3:-CsvExampleGen} dir=$WORK/run-$1
    local bytes=${4:-$BYTES} rows=${5:-$ROWS}
    rm -rf "$dir"
    mkdir -p "$dir"
    cat > "$dir/in.json" <<EOF
{"schema_version":"weir.executor/v1","component":{"name":"example_gen","type":"$type"},
 "run":{"id":"bench","pipeline":"bench","root":"$dir"},"params":$params,"inputs":{},
 "outputs":{"examples":[{"type":"Examples","uri":"$dir/examples/"}]},
 "output_file":"$dir/executor_output.json"}
EOF
    /usr/bin/time -v "$BIN" --executor-input "$dir/in.json" > "$dir/log" 2>&1 || {
        tail -20 "$dir/log" >&2; exit 1; }
    local wall user sys rss
    wall=$(grep -E '^\s+Elapsed \(wall clock\)' "$dir/log" | awk '{print $NF}' |
        awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
    user=$(grep -E '^\s+User time' "$dir/log" | awk '{print $NF}')
    sys=$(grep -E '^\s+System time' "$dir/log" | awk '{print $NF}')
    rss=$(grep -E '^\s+Maximum resident set size' "$dir/log" | awk '{print $NF}')
    local out_bytes
    out_bytes=$(du -sb "$dir/examples" | cut -f1)
    python3 - "$label" "$bytes" "$rows" "$wall" "$user" "$sys" "$rss" "$out_bytes" <<'EOF'
import sys
label, b, rows, wall, user, sys_, rss, ob = sys.argv[1:]
b, rows, wall, cpu = int(b), int(rows), float(wall), float(user) + float(sys_)
print(f"weir {label:10s} wall {wall:7.2f} s  {b/wall/1e6:7.1f} MB/s  {rows/wall/1e3:8.1f} krows/s"
      f"  cpu {cpu:7.2f} s  {b/cpu/1e6:6.1f} MB/cpu-s  peak RSS {int(rss)/1024:6.1f} MiB"
      f"  output {int(ob)/1e6:.1f} MB")
EOF
}

run_weir threads-1 '{"input":"'"$CSV"'","threads":1}'
run_weir default '{"input":"'"$CSV"'"}'
run_weir shards-4 '{"input":"'"$CSV"'","shards":4}'

# ImportExampleGen on the default run's output (gzip TFRecord; MB/s counts
# the compressed input bytes).
IMP_BYTES=$(cat "$WORK"/run-default/examples/Split-*/*.gz | wc -c)
run_weir import '{"input":"'"$WORK"'/run-default/examples/Split-*/*.gz"}' ImportExampleGen \
    "$IMP_BYTES" "$ROWS"

# JsonExampleGen on the same rows as JSON lines (a quarter of SIZE_MB).
JSONL=$WORK/churn_$((SIZE_MB / 4))mb.jsonl
if [ ! -f "$JSONL" ]; then
    python3 - "$SRC" "$JSONL" "$((SIZE_MB / 4))" <<'EOF'
import csv, json, os, sys
src, out, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
def typed(v):
    for f in (int, float):
        try:
            return f(v)
        except ValueError:
            pass
    return None if v.strip() in ("", "NA") else v
with open(src, newline="") as f:
    lines = [json.dumps({k: typed(v) for k, v in row.items()}) + "\n" for row in csv.DictReader(f)]
block = "".join(lines).encode()
with open(out + ".tmp", "wb") as f:
    n = 0
    while n < mb * 1000000:
        f.write(block)
        n += len(block)
os.replace(out + ".tmp", out)
EOF
fi
run_weir jsonl '{"input":"'"$JSONL"'"}' JsonExampleGen "$(stat -c %s "$JSONL")" "$(wc -l < "$JSONL")"

# TFX's CsvExampleGen executor (bench/tfx_csv_example_gen.py: Executor.Do()
# with split config train:4 eval:1, gzip TFRecords, Beam's default
# DirectRunner unless TFX_BEAM_ARGS says otherwise) on a smaller CSV of the
# same rows; it is much slower. The output's records are counted with
# TensorFlow and must equal the CSV's rows.
if [ -n "$TFX_PY" ]; then
    TCSV_DIR=$WORK/tfx_input
    mkdir -p "$TCSV_DIR"
    make_csv "$TCSV_DIR/data.csv" "$TFX_SIZE_MB"
    TB=$(stat -c %s "$TCSV_DIR/data.csv")
    TROWS=$(($(wc -l < "$TCSV_DIR/data.csv") - 1))
    rm -rf "$WORK/tfx_out"
    echo "tfx input: $TCSV_DIR/data.csv, $TB bytes, $TROWS rows; load: $(cut -d' ' -f1-3 /proc/loadavg)"
    # shellcheck disable=SC2086
    /usr/bin/time -v "$TFX_PY" "$ROOT/bench/tfx_csv_example_gen.py" run "$TCSV_DIR" "$WORK/tfx_out" \
        ${TFX_BEAM_ARGS:-} > "$WORK/tfx.log" 2>&1 || { tail -30 "$WORK/tfx.log" >&2; exit 1; }
    "$TFX_PY" "$ROOT/bench/tfx_csv_example_gen.py" count "$WORK/tfx_out" > "$WORK/tfx_count.log" 2>&1 || {
        tail -30 "$WORK/tfx_count.log" >&2; exit 1; }
    grep -E '^split ' "$WORK/tfx_count.log" | sed 's/^/tfx  output /'
    TOUT=$(awk '/^total /{print $2}' "$WORK/tfx_count.log")
    [ "$TOUT" = "$TROWS" ] || { echo "tfx output has $TOUT records, the CSV $TROWS rows" >&2; exit 1; }
    tfx_ver=$("$TFX_PY" -c 'import importlib.metadata as m; print(" ".join(p + "-" + m.version(p) for p in ("tfx", "tfx-bsl", "apache-beam", "tensorflow-cpu")))' 2>/dev/null || true)
    python3 - "$TB" "$TROWS" "$BYTES" "$ROWS" "$WORK/tfx.log" "$WORK/run-default/log" \
        "$WORK/run-threads-1/log" "$tfx_ver" <<'PYEOF'
import re, sys
tb, trows, wb, wrows = map(int, sys.argv[1:5])
tfx_log, weir_default_log, weir_t1_log, ver = sys.argv[5:9]

def gnu_time(path):
    d = {}
    for line in open(path, errors="replace"):
        line = line.strip()
        if line.startswith("Elapsed (wall clock)"):
            parts = [float(x) for x in line.rsplit(" ", 1)[1].split(":")]
            d["wall"] = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        elif line.startswith("User time"):
            d["user"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("System time"):
            d["sys"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("Maximum resident set size"):
            d["rss"] = int(line.rsplit(" ", 1)[1])
        else:
            m = re.match(r"(import s|Do\(\) s|tree peak RSS KiB|tree processes): (\S+)", line)
            if m:
                d[m.group(1)] = float(m.group(2))
    return d

t = gnu_time(tfx_log)
wall, do, cpu = t["wall"], t["Do() s"], t["user"] + t["sys"]
print(f"tfx  DirectRunner wall {wall:7.2f} s  {tb/wall/1e6:7.2f} MB/s  {trows/wall/1e3:8.1f} krows/s"
      f"  cpu {cpu:7.2f} s  {tb/cpu/1e6:6.2f} MB/cpu-s  peak RSS {t['rss']/1024:6.1f} MiB"
      f" (largest process; sampled tree sum {t['tree peak RSS KiB']/1024:.1f} MiB,"
      f" {int(t['tree processes'])} process(es))"
      f"  ({tb/1e6:.0f} MB input, {trows} rows)")
print(f"tfx  Do() only    {do:7.2f} s  {tb/do/1e6:7.2f} MB/s  {trows/do/1e3:8.1f} krows/s"
      f"  (wall less {t['import s']:.1f} s of imports)")
print(f"tfx  versions: {ver}")
for label, path in (("default", weir_default_log), ("threads-1", weir_t1_log)):
    w = gnu_time(path)
    wcpu = w["user"] + w["sys"]
    print(f"ratio weir {label:9s} / tfx: {(wb / w['wall']) / (tb / wall):6.1f}x MB/s"
          f"  {(wrows / w['wall']) / (trows / wall):6.1f}x rows/s"
          f"  {(wb / wcpu) / (tb / cpu):6.1f}x MB/cpu-s"
          f"  ({(wb / w['wall']) / (tb / do):.1f}x MB/s against TFX's Do() only)")
print(f"  (same-rate comparison: weir's rate on its {wb/1e6:.0f} MB run against TFX's on {tb/1e6:.0f} MB)")
PYEOF
fi
