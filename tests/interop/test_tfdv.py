"""weir's StatisticsGen, SchemaGen and ExampleValidator against TFDV itself.

On the same tf.Example data (wa_churn.csv and ames.csv converted by
`weir convert csv`), weir's FeatureStats.pb must agree with
tfdv.generate_statistics_from_tfrecord: counts exactly, means and standard
deviations within 1e-6 relative, quantile-derived numbers (median, histogram
bucket counts) within the rank error both sketches allow. TFDV must read
weir's files (load_stats_binary, load_schema_text, the Anomalies proto), and
weir's inferred schema must equal tfdv.infer_schema's, feature by feature and
as text. A CSV with planted problems must yield those anomalies, as TFDV's
validate_statistics reports them.

Needs tensorflow-data-validation (tests/interop/requirements-tfdv.txt).
"""
import json
import math
import os
import pathlib
import shutil
import subprocess

import pytest

tfdv = pytest.importorskip("tensorflow_data_validation")
tf = pytest.importorskip("tensorflow")
from google.protobuf import text_format  # noqa: E402
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHURN = ROOT / "examples" / "churn" / "data" / "wa_churn.csv"
AMES = ROOT / "examples" / "ames" / "data" / "ames.csv"
FIXTURES = ROOT / "tests" / "data" / "tfmd"

# TFDV's default StatsOptions.epsilon: the rank error of its quantiles sketch.
TFDV_EPS = 0.01
# weir's sketch is exact below 2*8192 values per feature, so only TFDV's
# error counts on these data sets.
WEIR_EPS = 0.0


def component(weir_bin, name):
    path = pathlib.Path(weir_bin).parent / name
    if not os.access(path, os.X_OK):
        pytest.skip(f"{name} not built beside {weir_bin}")
    return str(path)


def run_component(weir_bin, binary, tmp, comp_type, inputs, outputs, params=None):
    doc = {
        "schema_version": "weir.executor/v1",
        "component": {"name": binary, "type": comp_type},
        "run": {"id": "t", "pipeline": "t", "root": str(tmp)},
        "params": params or {},
        "inputs": inputs,
        "outputs": outputs,
        "output_file": str(tmp / ".system" / f"{binary}.json"),
    }
    src = tmp / f"{binary}-input.json"
    src.write_text(json.dumps(doc))
    proc = subprocess.run([component(weir_bin, binary), "--executor-input", str(src)],
                          capture_output=True, text=True)
    report = {}
    if os.path.exists(doc["output_file"]):
        report = json.loads(pathlib.Path(doc["output_file"]).read_text())
    return proc, report


def convert(weir_bin, csv, out_dir, missing=("",)):
    args = [weir_bin, "convert", "csv", str(csv), "--out", str(out_dir), "--shards", "2"]
    for m in missing:
        args += ["--missing", m]
    subprocess.run(args, check=True, capture_output=True)


def read_values(split_dir):
    """Every feature's flattened values, from the TFRecords themselves."""
    values = {}
    files = sorted(str(p) for p in pathlib.Path(split_dir).glob("*.gz"))
    for rec in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        ex = tf.train.Example.FromString(rec.numpy())
        for name, feat in ex.features.feature.items():
            kind = feat.WhichOneof("kind")
            if kind == "int64_list":
                values.setdefault(name, []).extend(feat.int64_list.value)
            elif kind == "float_list":
                values.setdefault(name, []).extend(feat.float_list.value)
    return values


class Dataset:
    """One CSV converted to Examples, with weir's and TFDV's statistics."""

    def __init__(self, weir_bin, tmp, csv, missing):
        self.tmp = tmp
        self.examples = tmp / "examples"
        convert(weir_bin, csv, self.examples / "Split-train", missing)
        self.stats_dir = tmp / "statistics"
        proc, self.stats_report = run_component(
            weir_bin, "weir-statistics-gen", tmp, "StatisticsGen",
            {"examples": [{"id": 1, "type": "Examples", "uri": str(self.examples) + "/",
                           "properties": {"split_names": "[\"train\"]"}}]},
            {"statistics": [{"type": "ExampleStatistics", "uri": str(self.stats_dir) + "/"}]})
        assert proc.returncode == 0, proc.stderr
        self.stats_file = self.stats_dir / "Split-train" / "FeatureStats.pb"
        self.weir = tfdv.load_stats_binary(str(self.stats_file))
        self.tfdv = tfdv.generate_statistics_from_tfrecord(
            data_location=str(self.examples / "Split-train" / "*.gz"))
        self.values = read_values(self.examples / "Split-train")
        self.n = self.tfdv.datasets[0].num_examples

    def features(self, which):
        ds = (self.weir if which == "weir" else self.tfdv).datasets[0]
        return {f.path.step[0] if f.path.step else f.name: f for f in ds.features}


@pytest.fixture(scope="module")
def churn(weir_bin, tmp_path_factory):
    return Dataset(weir_bin, tmp_path_factory.mktemp("churn"), CHURN, ("", "NA"))


@pytest.fixture(scope="module")
def ames(weir_bin, tmp_path_factory):
    return Dataset(weir_bin, tmp_path_factory.mktemp("ames"), AMES, ("",))


def common(f):
    which = f.WhichOneof("stats")
    return getattr(f, which).common_stats


def rank_interval(sorted_vals, v):
    """[first, last] 0-based rank positions a value may take."""
    import bisect
    return bisect.bisect_left(sorted_vals, v), bisect.bisect_right(sorted_vals, v)


def close(a, b, rel=1e-6, abs_=1e-9):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def check_statistics(ds):
    ours, theirs = ds.features("weir"), ds.features("tfdv")
    assert set(ours) == set(theirs)
    assert ds.weir.datasets[0].num_examples == ds.n
    n_numeric = n_string = 0
    for name, t in theirs.items():
        w = ours[name]
        assert w.type == t.type, name
        assert w.WhichOneof("stats") == t.WhichOneof("stats"), name
        cw, ct = common(w), common(t)
        for field in ("num_non_missing", "num_missing", "min_num_values", "max_num_values",
                      "tot_num_values"):
            assert getattr(cw, field) == getattr(ct, field), (name, field)
        assert close(cw.avg_num_values, ct.avg_num_values), name
        assert len(cw.num_values_histogram.buckets) == len(ct.num_values_histogram.buckets)
        for bw, bt in zip(cw.num_values_histogram.buckets, ct.num_values_histogram.buckets):
            assert close(bw.sample_count, bt.sample_count, rel=1e-6, abs_=TFDV_EPS * ds.n), name
        if t.HasField("num_stats"):
            n_numeric += 1
            nw, nt = w.num_stats, t.num_stats
            assert close(nw.mean, nt.mean), (name, nw.mean, nt.mean)
            assert close(nw.std_dev, nt.std_dev), (name, nw.std_dev, nt.std_dev)
            assert nw.num_zeros == nt.num_zeros, name
            assert nw.min == nt.min and nw.max == nt.max, name
            vals = sorted(ds.values.get(name, []))
            if vals:
                tot = len(vals)
                err = (TFDV_EPS + WEIR_EPS) * tot + 1
                lo_w, hi_w = rank_interval(vals, nw.median)
                lo_t, hi_t = rank_interval(vals, nt.median)
                # both medians sit within the sketches' rank error of rank n/2
                assert lo_w - err <= tot / 2 <= hi_w + err, (name, nw.median)
                assert lo_t - err <= tot / 2 <= hi_t + err, (name, nt.median)
            hw = {h.type: h for h in nw.histograms}
            ht = {h.type: h for h in nt.histograms}
            assert set(hw) == set(ht), name
            std_w, std_t = hw[statistics_pb2.Histogram.STANDARD], ht[statistics_pb2.Histogram.STANDARD]
            assert len(std_w.buckets) == len(std_t.buckets), name
            for bw, bt in zip(std_w.buckets, std_t.buckets):
                assert close(bw.low_value, bt.low_value) and close(bw.high_value, bt.high_value)
                # bucket counts come from interpolated quantiles in both
                assert abs(bw.sample_count - bt.sample_count) <= 2 * TFDV_EPS * ds.n + 1, \
                    (name, bw, bt)
            q_w = hw[statistics_pb2.Histogram.QUANTILES]
            q_t = ht[statistics_pb2.Histogram.QUANTILES]
            assert len(q_w.buckets) == len(q_t.buckets), name
            tot = sum(b.sample_count for b in q_t.buckets)
            assert close(sum(b.sample_count for b in q_w.buckets), tot, rel=1e-9), name
        else:
            n_string += 1
            sw, st = w.string_stats, t.string_stats
            assert sw.unique == st.unique, name
            assert close(sw.avg_length, st.avg_length), name
            assert [(v.value, v.frequency) for v in sw.top_values] == \
                   [(v.value, v.frequency) for v in st.top_values], name
            assert [(b.label, b.sample_count, b.low_rank) for b in sw.rank_histogram.buckets] == \
                   [(b.label, b.sample_count, b.low_rank) for b in st.rank_histogram.buckets], name
    return n_numeric, n_string


def test_churn_statistics_match_tfdv(churn):
    n_numeric, n_string = check_statistics(churn)
    assert n_numeric >= 3 and n_string >= 10


def test_ames_statistics_match_tfdv(ames):
    n_numeric, n_string = check_statistics(ames)
    assert n_numeric >= 20 and n_string >= 20


def test_tfdv_reads_weir_statistics(churn):
    # load_stats_binary is how TFX reads FeatureStats.pb (binary proto);
    # the file also parses with TFMD's own generated class.
    raw = statistics_pb2.DatasetFeatureStatisticsList.FromString(churn.stats_file.read_bytes())
    assert raw.datasets[0].num_examples == 7043
    assert churn.stats_report["execution"]["custom_properties"]["num_examples"] == 7043
    # tfdv.load_statistics takes a one-record TFRecord (or text): weir writes
    # the same proto that way beside FeatureStats.pb, as older TFX did.
    rec = churn.stats_file.parent / "stats_tfrecord"
    loaded = tfdv.load_statistics(str(rec))
    assert loaded == raw
    assert loaded.datasets[0].num_examples == 7043
    assert len(loaded.datasets[0].features) == len(raw.datasets[0].features) > 10


def infer_weir_schema(weir_bin, ds):
    out = ds.tmp / "schema"
    proc, _ = run_component(
        weir_bin, "weir-schema-gen", ds.tmp, "SchemaGen",
        {"statistics": [{"id": 2, "type": "ExampleStatistics", "uri": str(ds.stats_dir) + "/",
                         "properties": {"split_names": "[\"train\"]"}}]},
        {"schema": [{"type": "Schema", "uri": str(out) + "/"}]})
    assert proc.returncode == 0, proc.stderr
    return out / "schema.pbtxt"


@pytest.mark.parametrize("which", ["churn", "ames"])
def test_schema_equals_tfdv_infer_schema(which, weir_bin, request):
    ds = request.getfixturevalue(which)
    path = infer_weir_schema(weir_bin, ds)
    ours = tfdv.load_schema_text(str(path))
    theirs = tfdv.infer_schema(ds.tfdv)
    by_name = {f.name: f for f in theirs.feature}
    assert sorted(f.name for f in ours.feature) == sorted(by_name)
    for f in ours.feature:
        assert f == by_name[f.name], f"{f.name}:\nweir:\n{f}\ntfdv:\n{by_name[f.name]}"
    assert {d.name: list(d.value) for d in ours.string_domain} == \
           {d.name: list(d.value) for d in theirs.string_domain}
    # and as text: TFDV's inference on weir's statistics, printed by
    # protobuf's text_format, is byte for byte weir's schema.pbtxt
    again = tfdv.infer_schema(ds.weir)
    assert text_format.MessageToString(again) == path.read_text()


def test_import_schema_gen_copies_and_validates(weir_bin, tmp_path):
    src = FIXTURES / "churn_schema.pbtxt"
    proc, _ = run_component(weir_bin, "weir-schema-gen", tmp_path, "ImportSchemaGen", {},
                            {"schema": [{"type": "Schema", "uri": str(tmp_path / "s") + "/"}]},
                            {"schema_file": str(src)})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "s" / "schema.pbtxt").read_bytes() == src.read_bytes()
    bad = tmp_path / "bad.pbtxt"
    bad.write_text('feature {\n  name: "x"\n  typo: INT\n}\n')
    proc, report = run_component(weir_bin, "weir-schema-gen", tmp_path, "ImportSchemaGen", {},
                                 {"schema": [{"type": "Schema", "uri": str(tmp_path / "b") + "/"}]},
                                 {"schema_file": str(bad)})
    assert proc.returncode != 0
    assert "bad.pbtxt:3:3" in report["error"] and "typo" in report["error"]


def test_planted_anomalies(weir_bin, churn, tmp_path):
    schema_path = infer_weir_schema(weir_bin, churn)
    # plant: a new category in contract, the female column gone, a word in
    # the numeric tenure column
    lines = CHURN.read_text().splitlines()
    header = lines[0].split(",")
    female = header.index('"female"')
    contract = header.index('"contract"')
    tenure = header.index('"tenure"')
    out = []
    for i, line in enumerate(lines):
        cells = line.split(",")
        if i == 5:
            cells[contract] = '"Decade-long"'
        if i == 7:
            cells[tenure] = '"abc"'
        del cells[female]
        out.append(",".join(cells))
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("\n".join(out) + "\n")
    (tmp_path / "bad").mkdir()
    bad = Dataset(weir_bin, tmp_path / "bad", bad_csv, ("", "NA"))
    proc, report = run_component(
        weir_bin, "weir-example-validator", tmp_path, "ExampleValidator",
        {"statistics": [{"id": 3, "type": "ExampleStatistics", "uri": str(bad.stats_dir) + "/",
                         "properties": {"split_names": "[\"train\"]"}}],
         "schema": [{"id": 4, "type": "Schema", "uri": str(schema_path.parent) + "/"}]},
        {"anomalies": [{"type": "ExampleAnomalies", "uri": str(tmp_path / "anomalies") + "/"}]})
    assert proc.returncode == 0, proc.stderr
    ours = anomalies_pb2.Anomalies.FromString(
        (tmp_path / "anomalies" / "Split-train" / "SchemaDiff.pb").read_bytes())
    kinds = {k: [r.type for r in v.reason] for k, v in ours.anomaly_info.items()}
    A = anomalies_pb2.AnomalyInfo
    assert kinds == {
        "contract": [A.ENUM_TYPE_UNEXPECTED_STRING_VALUES],
        "female": [A.SCHEMA_MISSING_COLUMN],
        "tenure": [A.UNEXPECTED_DATA_TYPE],
    }, kinds
    assert ours.anomaly_info["contract"].description == \
        "Examples contain values missing from the schema: Decade-long (<1%). "
    assert report["execution"]["custom_properties"]["anomalies_found"] == 3
    # TFDV finds the same features anomalous, with the same reasons
    theirs = tfdv.validate_statistics(bad.weir, tfdv.load_schema_text(str(schema_path)))
    assert {k: [r.type for r in v.reason] for k, v in theirs.anomaly_info.items()} == kinds
    assert theirs.anomaly_info["contract"].description == ours.anomaly_info["contract"].description

    # the same data against itself has no anomalies
    proc, report = run_component(
        weir_bin, "weir-example-validator", tmp_path, "ExampleValidator",
        {"statistics": [{"id": 5, "type": "ExampleStatistics", "uri": str(churn.stats_dir) + "/",
                         "properties": {"split_names": "[\"train\"]"}}],
         "schema": [{"id": 4, "type": "Schema", "uri": str(schema_path.parent) + "/"}]},
        {"anomalies": [{"type": "ExampleAnomalies", "uri": str(tmp_path / "clean") + "/"}]},
        {"fail_on_anomalies": True})
    assert proc.returncode == 0, proc.stderr
    assert report["execution"]["custom_properties"]["anomalies_found"] == 0


def test_drift_between_spans(weir_bin, churn, tmp_path):
    """Span 2 has most Month-to-month contracts rewritten to Two year and
    monthly_charges scaled up; with span 1's statistics as
    baseline_statistics, weir's validator flags contract (L-infinity) and
    monthly_charges (Jensen-Shannon) as tfdv.validate_statistics(...,
    previous_statistics=...) does, and leaves unchanged features alone."""
    schema_path = infer_weir_schema(weir_bin, churn)
    schema = tfdv.load_schema_text(str(schema_path))
    thresholds = {"contract": ("infinity_norm", 0.01),
                  "payment_method": ("infinity_norm", 0.05),
                  "monthly_charges": ("jensen_shannon_divergence", 0.05),
                  "tenure": ("jensen_shannon_divergence", 0.05)}
    for f in schema.feature:
        if f.name in thresholds:
            kind, t = thresholds[f.name]
            getattr(f.drift_comparator, kind).threshold = t
    drift_dir = tmp_path / "drift_schema"
    drift_dir.mkdir()
    tfdv.write_schema_text(schema, str(drift_dir / "schema.pbtxt"))

    lines = CHURN.read_text().splitlines()
    header = lines[0].split(",")
    contract = header.index('"contract"')
    charges = header.index('"monthly_charges"')
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        cells = line.split(",")
        if cells[contract] == '"Month-to-month"' and i % 4 != 0:
            cells[contract] = '"Two year"'
        cells[charges] = f"{float(cells[charges]) * 1.8:.2f}"
        out.append(",".join(cells))
    span2_csv = tmp_path / "span2.csv"
    span2_csv.write_text("\n".join(out) + "\n")
    (tmp_path / "span2").mkdir()
    span2 = Dataset(weir_bin, tmp_path / "span2", span2_csv, ("", "NA"))

    def validate(name, baseline, params=None):
        inputs = {"statistics": [{"id": 7, "type": "ExampleStatistics",
                                  "uri": str(span2.stats_dir) + "/",
                                  "properties": {"split_names": "[\"train\"]"}}],
                  "schema": [{"id": 8, "type": "Schema", "uri": str(drift_dir) + "/"}]}
        if baseline:
            inputs["baseline_statistics"] = [
                {"id": 9, "type": "ExampleStatistics", "uri": str(churn.stats_dir) + "/",
                 "properties": {"split_names": "[\"train\"]"}}]
        proc, report = run_component(
            weir_bin, "weir-example-validator", tmp_path, "ExampleValidator", inputs,
            {"anomalies": [{"type": "ExampleAnomalies", "uri": str(tmp_path / name) + "/"}]},
            params)
        assert proc.returncode == 0, proc.stderr
        return report, anomalies_pb2.Anomalies.FromString(
            (tmp_path / name / "Split-train" / "SchemaDiff.pb").read_bytes())

    A = anomalies_pb2.AnomalyInfo
    report, ours = validate("drift", True)
    kinds = {k: [r.type for r in v.reason] for k, v in ours.anomaly_info.items()}
    assert kinds == {"contract": [A.COMPARATOR_L_INFTY_HIGH],
                     "monthly_charges": [A.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH]}, kinds
    assert report["execution"]["custom_properties"]["anomalies_found"] == 2

    theirs = tfdv.validate_statistics(span2.weir, schema, previous_statistics=churn.weir)
    assert {k: [r.type for r in v.reason] for k, v in theirs.anomaly_info.items()} == kinds

    def distance(desc):
        return float(desc.split(" is ", 1)[1].split(" ", 1)[0])

    ol, tl = ours.anomaly_info["contract"], theirs.anomaly_info["contract"]
    assert ol.short_description == tl.short_description
    assert close(distance(ol.description), distance(tl.description), rel=1e-6)
    assert ol.description == tl.description
    oj, tj = ours.anomaly_info["monthly_charges"], theirs.anomaly_info["monthly_charges"]
    assert oj.short_description == tj.short_description
    assert close(distance(oj.description), distance(tj.description), rel=1e-5)
    assert oj.description == tj.description

    # an explicit baseline_split naming the same split gives the same result;
    # one the baseline lacks is an error; no baseline means no drift check
    _, again = validate("drift2", True, {"baseline_split": "train"})
    assert {k: [r.type for r in v.reason] for k, v in again.anomaly_info.items()} == kinds
    proc, _ = run_component(
        weir_bin, "weir-example-validator", tmp_path, "ExampleValidator",
        {"statistics": [{"id": 7, "type": "ExampleStatistics", "uri": str(span2.stats_dir) + "/",
                         "properties": {"split_names": "[\"train\"]"}}],
         "schema": [{"id": 8, "type": "Schema", "uri": str(drift_dir) + "/"}],
         "baseline_statistics": [{"id": 9, "type": "ExampleStatistics",
                                  "uri": str(churn.stats_dir) + "/",
                                  "properties": {"split_names": "[\"train\"]"}}]},
        {"anomalies": [{"type": "ExampleAnomalies", "uri": str(tmp_path / "bad") + "/"}]},
        {"baseline_split": "eval"})
    assert proc.returncode != 0 and "baseline_split" in proc.stderr
    report, none = validate("nodrift", False)
    assert len(none.anomaly_info) == 0
    assert report["execution"]["custom_properties"]["anomalies_found"] == 0


def test_fixture_schema_round_trips_through_tfdv():
    """The TFDV-written fixture reads back in TFDV unchanged (sanity of the
    fixture the C tests use)."""
    text = (FIXTURES / "churn_schema.pbtxt").read_text()
    s = schema_pb2.Schema()
    text_format.Parse(text, s)
    assert text_format.MessageToString(s) == text


def test_two_splits_through_all_three(weir_bin, tmp_path):
    """train and eval splits: statistics per split, one schema from both
    (tfdv.update_schema semantics), anomalies per split with counts."""
    examples = tmp_path / "examples"
    convert(weir_bin, CHURN, examples / "Split-train", ("", "NA"))
    # eval: the first 500 rows, with total_charges never missing
    rows = CHURN.read_text().splitlines()
    small = tmp_path / "eval.csv"
    small.write_text("\n".join([rows[0]] + [r for r in rows[1:501] if ",NA" not in r]) + "\n")
    convert(weir_bin, small, examples / "Split-eval", ("", "NA"))
    splits = "[\"train\",\"eval\"]"
    proc, rep = run_component(
        weir_bin, "weir-statistics-gen", tmp_path, "StatisticsGen",
        {"examples": [{"id": 1, "type": "Examples", "uri": str(examples) + "/",
                       "properties": {"split_names": splits}}]},
        {"statistics": [{"type": "ExampleStatistics", "uri": str(tmp_path / "st") + "/"}]})
    assert proc.returncode == 0, proc.stderr
    props = rep["execution"]["custom_properties"]
    assert props["num_examples_train"] == 7043 and 0 < props["num_examples_eval"] <= 500
    assert rep["outputs"]["statistics"][0]["properties"]["split_names"] == splits
    proc, _ = run_component(
        weir_bin, "weir-schema-gen", tmp_path, "SchemaGen",
        {"statistics": [{"id": 2, "type": "ExampleStatistics", "uri": str(tmp_path / "st") + "/",
                         "properties": {"split_names": splits}}]},
        {"schema": [{"type": "Schema", "uri": str(tmp_path / "sc") + "/"}]})
    assert proc.returncode == 0, proc.stderr
    ours = tfdv.load_schema_text(str(tmp_path / "sc" / "schema.pbtxt"))
    train = tfdv.load_stats_binary(str(tmp_path / "st" / "Split-train" / "FeatureStats.pb"))
    ev = tfdv.load_stats_binary(str(tmp_path / "st" / "Split-eval" / "FeatureStats.pb"))
    theirs = tfdv.update_schema(tfdv.infer_schema(train), ev)
    assert {f.name: f for f in ours.feature} == {f.name: f for f in theirs.feature}
    proc, rep = run_component(
        weir_bin, "weir-example-validator", tmp_path, "ExampleValidator",
        {"statistics": [{"id": 2, "type": "ExampleStatistics", "uri": str(tmp_path / "st") + "/",
                         "properties": {"split_names": splits}}],
         "schema": [{"id": 3, "type": "Schema", "uri": str(tmp_path / "sc") + "/"}]},
        {"anomalies": [{"type": "ExampleAnomalies", "uri": str(tmp_path / "an") + "/"}]},
        {"exclude_splits": ["eval"]})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "an" / "Split-train" / "SchemaDiff.pb").exists()
    assert not (tmp_path / "an" / "Split-eval").exists()
    assert rep["execution"]["custom_properties"]["anomalies_train"] == 0


def test_skew_matches_tfdv(weir_bin, churn, tmp_path):
    """Training vs serving skew (the schema's skew_comparator): weir's
    ExampleValidator with params.skew_split finds what TFDV's
    validate_statistics(serving_statistics=...) finds, with the same
    distance and the same value."""
    # serving: the newer customers only (tenure < 12), where month-to-month
    # contracts dominate
    lines = CHURN.read_text().splitlines()
    tenure = lines[0].split(",").index('"tenure"')
    keep = [lines[0]] + [ln for ln in lines[1:] if int(ln.split(",")[tenure]) < 12]
    serving_csv = tmp_path / "serving.csv"
    serving_csv.write_text("\n".join(keep) + "\n")
    (tmp_path / "serving").mkdir()
    serving = Dataset(weir_bin, tmp_path / "serving", serving_csv, ("", "NA"))
    stats = tmp_path / "stats"
    for split, src in (("train", churn.stats_file), ("serving", serving.stats_file)):
        (stats / f"Split-{split}").mkdir(parents=True)
        (stats / f"Split-{split}" / "FeatureStats.pb").write_bytes(src.read_bytes())
    schema_file = infer_weir_schema(weir_bin, churn)
    text = schema_file.read_text().replace(
        'name: "contract"\n',
        'name: "contract"\n  skew_comparator {\n    infinity_norm {\n      threshold: 0.01\n    }\n  }\n', 1)
    assert "skew_comparator" in text
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "schema.pbtxt").write_text(text)
    proc, _ = run_component(
        weir_bin, "weir-example-validator", tmp_path, "ExampleValidator",
        {"statistics": [{"id": 3, "type": "ExampleStatistics", "uri": str(stats) + "/",
                         "properties": {"split_names": "[\"train\",\"serving\"]"}}],
         "schema": [{"id": 4, "type": "Schema", "uri": str(tmp_path / "schema") + "/"}]},
        {"anomalies": [{"type": "ExampleAnomalies", "uri": str(tmp_path / "anomalies") + "/"}]},
        params={"skew_split": "serving"})
    assert proc.returncode == 0, proc.stderr
    ours = anomalies_pb2.Anomalies.FromString(
        (tmp_path / "anomalies" / "Split-train" / "SchemaDiff.pb").read_bytes())
    theirs = tfdv.validate_statistics(
        churn.weir, tfdv.load_schema_text(str(tmp_path / "schema" / "schema.pbtxt")),
        serving_statistics=tfdv.load_stats_binary(str(serving.stats_file)))
    assert "contract" in ours.anomaly_info, dict(ours.anomaly_info)
    assert "contract" in theirs.anomaly_info, dict(theirs.anomaly_info)
    o, t = ours.anomaly_info["contract"], theirs.anomaly_info["contract"]
    assert o.reason[0].type == t.reason[0].type == anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH
    assert o.short_description == t.short_description
    assert o.description == t.description, (o.description, t.description)
    # the serving split is not compared with itself
    ours_serving = anomalies_pb2.Anomalies.FromString(
        (tmp_path / "anomalies" / "Split-serving" / "SchemaDiff.pb").read_bytes())
    assert "contract" not in ours_serving.anomaly_info
