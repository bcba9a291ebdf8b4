"""Reference analyzer results from tensorflow-transform (tft) itself.

`analyze(csv_path, spec)` runs tft's own analyzers (tft_beam.AnalyzeDataset on
Beam's DirectRunner, in a temporary directory) over a CSV file with a header
row and returns what tft computed, item by item. weir's Transform component is
checked against these numbers in test_transform_tft.py.

Spec and result
---------------
`spec` is a list of dicts, each {"name": OUT, "input": COLUMN, "analyzer": A}
plus options; the result maps each OUT to a dict:

  "mean_var"    tft.mean and tft.var (one combined analyzer in tft).
                Option "output_dtype": "float32" | "float64" (default: tft's
                own default, float32 for every int and float32 column).
                -> {"mean": float, "var": float, "dtype": "float32"}
  "min_max"     tft.min and tft.max.
                -> {"min": int|float, "max": int|float, "dtype": "int64"|"float32"}
  "vocabulary"  tft.vocabulary(store_frequency=True), options "top_k" and
                "frequency_threshold".
                -> {"vocabulary": [[token, count], ...]} in the order of the
                   file tft writes (token as str, count as int)
  "quantiles"   tft.quantiles, option "num_buckets" (default 10) and
                "epsilon" (default: tft's own default for bucketize,
                min(1 / num_buckets, 0.01)).
                -> {"boundaries": [float, ...], "num_buckets": N,
                    "epsilon": eps}

Floats come back as Python floats holding the exact value tft produced (a
float32 unless output_dtype is float64); ints as Python ints.

Reading the CSV
---------------
The same rules as TFX's CsvExampleGen: a column is INT if every non-empty
value parses as an integer (int64), FLOAT if every non-empty value parses as
a float, else BYTES. "" and "NA" are missing. Values are fed to tft the way
TFX Transform feeds tf.Examples from ExampleGen: one Arrow RecordBatch column
per CSV column, of type large_list<int64 | float32 | large_binary>, a missing
value being a null list, read through a TensorAdapterConfig whose tensor
representations are VarLenSparseTensor -- so every feature reaches the
preprocessing_fn as a tf.SparseTensor of shape [batch, None] holding only the
present values (FLOAT values are float32, as in tf.Example's float_list).

Missing values, per analyzer (tft 1.16.0 source, confirmed by runs; a
SparseTensor's absent entries are simply not among its values):
  mean_var    reduce_batch_count_mean_and_var reduces x.values only: count,
              mean and var are over the present values; missing values are
              neither zeros nor counted. From the source (not exercised by
              these data): NaN and +-inf values are skipped too, and an
              all-missing column gives mean 0 and var 0 (divide_no_nan).
  min_max     reduce_batch_minus_min_and_max reduces x.values only.
  vocabulary  reduce_batch_weighted_counts counts x.values only; in addition
              the empty string and any token containing '\\n' or '\\r' are
              dropped (text vocabulary files cannot hold them).
  quantiles   tft.quantiles takes a dense tensor; like tft.bucketize does for
              a composite input we pass x.values, so the sketch sees only the
              present values.
Evidence: on wa_churn.csv, total_charges has 11 "NA"; tft's mean over it,
2283.300537109375 (float32; 2283.300441385536 with output_dtype float64),
is the mean of the 7032 present values (2283.3004413855...), not the
7043-row mean with zeros filled in (2279.73...); its vocabulary counts sum to
the number of present values (test_transform_tft.py checks this for every
column of both data sets).

Facts established by runs (tft 1.16.0, tensorflow-cpu 2.16.2, apache-beam
2.59.0, DirectRunner)
-------------------------------------------------------------------------
(a) Vocabulary order: count descending, and among equal counts token bytes
    DESCENDING. tft sorts the (count, token) pairs with sort(reverse=True);
    top_k is beam.combiners.Top.Of(k) over the same tuples, so on a tie at
    the cut it keeps the tokens with the largest bytes; frequency_threshold
    keeps count >= threshold (ties at the threshold kept), and is applied
    before top_k. Run: tokens a x3, b x3, B x3, aa x2, ab x2, c, d, e-acute
    (UTF-8 c3 a9) x1 each, shuffled:
      all                 b 3, a 3, B 3, ab 2, aa 2, e-acute 1, d 1, c 1
      top_k=2             b 3, a 3
      top_k=4             b 3, a 3, B 3, ab 2
      frequency_threshold=2           b, a, B, ab, aa
      frequency_threshold=3, top_k=2  b 3, a 3
      frequency_threshold=2, top_k=4  b 3, a 3, B 3, ab 2
    Every string column of wa_churn.csv and ames.csv equals
    sorted(Counter(values).items() as (count, token), reverse=True); ames's
    Sale_Type keeps its trailing space ("WD "). The vocabulary file drops the
    empty string and tokens containing '\\n' or '\\r'.
(b) tft.var is the POPULATION variance: values 1, 2, 3, 4 give mean 2.5,
    var 1.25 (not 1.6667). Each Beam batch is reduced inside the TF graph in
    the output dtype -- float32 by default: count, sum, mean = sum / n,
    var = sum((x - mean)^2) / n over the finite values -- and the per-batch
    (count, mean, var) are merged in numpy float64 with the pairwise (Chan et
    al.) update; the result is cast to the output dtype. The float32 result
    therefore depends on the batching (batch sizes 100, 1000 and one batch
    give different last bits on most columns) and, against the exact
    population statistics of the same float32 values, measured:
      wa_churn  mean <= 5.7e-8 relative, var <= 1.7e-7
      ames      mean <= 7.5e-8 relative, var <= 4.9e-5 (Year_Sold;
                Latitude 2.8e-5, Longitude 9.8e-6, Year_Remod_Add 2.3e-7)
    With output_dtype=tf.float64 everything is float64: mean <= 2.2e-16,
    var <= 1.3e-13 relative on both. A 1e-6 comparison must use that run.
(c) tft.quantiles(x, num_buckets=N, epsilon) returns N - 1 boundaries (the
    sketch's min and max are cut off), float32, shape [1, N - 1], ascending;
    duplicates are NOT removed (wa_churn's six 0/1 columns give boundaries
    that are only 0.0 and 1.0, repeated; ames's Mas_Vnr_Area gives 0.0 six
    times; 22 of ames's 34 numeric columns repeat a boundary).
    The sketch is tfx_bsl's QuantilesSketch (the summary of Zhang & Wang,
    "Efficient computation of quantiles over streams", SSDBM'07), created
    with max_num_values 2**32: for up to 2**32 values each returned quantile's
    rank is within epsilon * n of the target rank i * n / N. tft.quantiles has
    no default epsilon; tft.bucketize and the compute_and_apply_* mappers use
    min(1 / num_buckets, 0.01) = 0.01 for N = 10, used here. On these sizes
    (n = 7043 / 2930) the result is essentially exact: every boundary of both
    data sets lies at rank i * n / N (tie-aware), i.e. rank error 0 at
    float32 resolution, independent of batch size. It is not one fixed order
    statistic formula: ames (n = 2930) gave sorted[floor(i * n / N)],
    wa_churn total_charges (n = 7032, i = 5) gave sorted[3515], not
    sorted[3516]; compare by rank, not by value.
(d) Ints: tft.mean/tft.var cast int64 to float32 before reducing and return
    float32 (16777217 becomes 16777216; 9007199254740993 as float64 becomes
    ...992); tft.min/tft.max return int64 unchanged (9007199254740993 comes
    back exact). FLOAT columns are float32 throughout (tf.Example float_list).
"""
import csv
import os
import tempfile

import numpy as np
import pyarrow as pa

MISSING = ("", "NA")
INT, FLOAT, BYTES = "INT", "FLOAT", "BYTES"
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _is_int(v):
    try:
        i = int(v)
    except ValueError:
        return False
    return _INT64_MIN <= i <= _INT64_MAX


def _is_float(v):
    try:
        float(v)
    except ValueError:
        return False
    return True


def read_csv(csv_path):
    """(header, {column: [raw string, ...]}) in file order."""
    with open(csv_path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        cols = {h: [] for h in header}
        for row in rows:
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(f"{csv_path}: row with {len(row)} fields, header has {len(header)}")
            for h, v in zip(header, row):
                cols[h].append(v)
    return header, cols


def infer_type(values):
    present = [v for v in values if v not in MISSING]
    if present and all(_is_int(v) for v in present):
        return INT
    if present and all(_is_float(v) for v in present):
        return FLOAT
    return BYTES


def typed_columns(csv_path):
    """{column: (type, [value or None, ...])} with CsvExampleGen's typing.

    INT values are Python ints, FLOAT values float32-rounded Python floats,
    BYTES values bytes; None is a missing value.
    """
    header, cols = read_csv(csv_path)
    out = {}
    for h in header:
        kind = infer_type(cols[h])
        conv = {INT: int, FLOAT: lambda v: float(np.float32(float(v))), BYTES: lambda v: v.encode()}[kind]
        out[h] = (kind, [None if v in MISSING else conv(v) for v in cols[h]])
    return out


def present_values(csv_path):
    """{column: (type, [present values])}: what the analyzers should see."""
    return {h: (k, [v for v in vals if v is not None]) for h, (k, vals) in typed_columns(csv_path).items()}


_ARROW = {INT: pa.int64(), FLOAT: pa.float32(), BYTES: pa.large_binary()}


def record_batches(columns, batch_size=None):
    """Arrow RecordBatches of large_list columns, as TFX's tf.Example TFXIO yields.

    batch_size None: one batch per 1000 rows.
    """
    names = list(columns)
    n = len(columns[names[0]][1]) if names else 0
    batch_size = batch_size or 1000
    batches = []
    for start in range(0, max(n, 1), batch_size):
        arrays = []
        for h in names:
            kind, vals = columns[h]
            chunk = [None if v is None else [v] for v in vals[start:start + batch_size]]
            arrays.append(pa.array(chunk, type=pa.large_list(_ARROW[kind])))
        batches.append(pa.RecordBatch.from_arrays(arrays, names))
    return batches


def arrow_schema(columns):
    return pa.schema([pa.field(h, pa.large_list(_ARROW[k])) for h, (k, _) in columns.items()])


def tensor_adapter_config(columns):
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx_bsl.tfxio import tensor_adapter

    reps = {}
    for h in columns:
        rep = schema_pb2.TensorRepresentation()
        rep.varlen_sparse_tensor.column_name = h
        reps[h] = rep
    return tensor_adapter.TensorAdapterConfig(arrow_schema(columns), reps)


def default_epsilon(num_buckets):
    # tft.bucketize / tft.compute_and_apply_* default (mappers.py)
    return min(1.0 / num_buckets, 0.01)


def _values(x):
    import tensorflow as tf
    return x.values if isinstance(x, tf.SparseTensor) else x


def _preprocessing_fn(spec, vocab_files):
    import tensorflow as tf
    import tensorflow_transform as tft

    dtypes = {"float32": tf.float32, "float64": tf.float64}

    def fn(inputs):
        first = inputs[next(iter(inputs))]
        batch = tf.cast(first.dense_shape[0], tf.int32) if isinstance(first, tf.SparseTensor) \
            else tf.shape(first)[0]

        def per_row(t):  # an analyzer's constant, repeated for every row of the batch
            if t.dtype == tf.float64:  # not a feature dtype; carried bit for bit as int64
                t = tf.bitcast(t, tf.int64)
            t = tf.reshape(t, [1, -1])
            return tf.tile(t, [batch, 1])

        out = {}
        for i, item in enumerate(spec):
            name, x, a = item["name"], inputs[item["input"]], item["analyzer"]
            if a == "mean_var":
                odt = dtypes[item["output_dtype"]] if item.get("output_dtype") else None
                out[f"o{i}_mean"] = per_row(tft.mean(x, output_dtype=odt))
                out[f"o{i}_var"] = per_row(tft.var(x, output_dtype=odt))
            elif a == "min_max":
                out[f"o{i}_min"] = per_row(tft.min(x))
                out[f"o{i}_max"] = per_row(tft.max(x))
            elif a == "quantiles":
                n = int(item.get("num_buckets", 10))
                eps = float(item.get("epsilon", default_epsilon(n)))
                out[f"o{i}_boundaries"] = per_row(tft.quantiles(_values(x), n, eps))
            elif a == "vocabulary":
                fname = f"vocab_{i}"
                vocab_files[name] = fname
                tft.vocabulary(x, top_k=item.get("top_k"),
                               frequency_threshold=item.get("frequency_threshold"),
                               store_frequency=True, vocab_filename=fname)
            else:
                raise ValueError(f"unknown analyzer {a!r} in {item}")
        if not out:  # a transform_fn needs an output
            out["_rows"] = tf.zeros([batch, 1], tf.int64)
        return out

    return fn


def read_vocabulary_file(path):
    """[[token, count], ...] from a store_frequency=True text vocabulary file."""
    out = []
    with open(path, "rb") as f:
        for line in f.read().split(b"\n")[:-1]:
            count, token = line.split(b" ", 1)
            out.append([token.decode("utf-8", "backslashreplace"), int(count)])
    return out


def _probe(tft_out, columns):
    """The analyzers' values: the transform graph applied to one all-missing row."""
    import tensorflow as tf

    dt = {INT: tf.int64, FLOAT: tf.float32, BYTES: tf.string}
    raw = {h: tf.SparseTensor(tf.zeros([0, 2], tf.int64), tf.constant([], dt[k]), [1, 1])
           for h, (k, _) in columns.items()}
    feats = tft_out.transform_raw_features(raw)
    return {k: v.numpy()[0] for k, v in feats.items()}


def _py(v):
    v = v.item() if hasattr(v, "item") else v
    return v


def analyze(csv_path, spec, batch_size=None, workdir=None):
    """Run tft's analyzers over csv_path; see the module docstring."""
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam

    columns = typed_columns(csv_path)
    for item in spec:
        if item["input"] not in columns:
            raise KeyError(f"{csv_path}: no column {item['input']!r}")
    batches = record_batches(columns, batch_size)
    config = tensor_adapter_config(columns)

    vocab_files = {}
    fn = _preprocessing_fn(spec, vocab_files)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        out_dir = os.path.join(tmp, "transform_fn_out")
        with beam.Pipeline(runner="DirectRunner") as p, tft_beam.Context(temp_dir=os.path.join(tmp, "tft")):
            data = p | "Data" >> beam.Create(batches, reshuffle=False)
            transform_fn = (data, config) | tft_beam.AnalyzeDataset(fn)
            _ = transform_fn | tft_beam.WriteTransformFn(out_dir)
        tft_out = tft.TFTransformOutput(out_dir)
        row = _probe(tft_out, columns)
        out = {}
        for i, item in enumerate(spec):
            name, a = item["name"], item["analyzer"]
            res = {"analyzer": a, "input": item["input"]}
            if a == "mean_var":
                m, v = row[f"o{i}_mean"], row[f"o{i}_var"]
                if item.get("output_dtype") == "float64":
                    m, v = m.view(np.float64), v.view(np.float64)
                res.update(mean=_py(m[0]), var=_py(v[0]), dtype=str(m.dtype))
            elif a == "min_max":
                lo, hi = row[f"o{i}_min"], row[f"o{i}_max"]
                res.update(min=_py(lo[0]), max=_py(hi[0]), dtype=str(lo.dtype))
            elif a == "quantiles":
                n = int(item.get("num_buckets", 10))
                b = row[f"o{i}_boundaries"]
                res.update(boundaries=[_py(x) for x in b], num_buckets=n,
                           epsilon=float(item.get("epsilon", default_epsilon(n))),
                           dtype=str(b.dtype))
            elif a == "vocabulary":
                path = tft_out.vocabulary_file_by_name(vocab_files[name])
                res.update(vocabulary=read_vocabulary_file(path))
            out[name] = res
    return out


def full_spec(csv_path, num_buckets=10):
    """mean_var, min_max and quantiles for every numeric column, vocabulary for every other."""
    spec = []
    for h, (kind, _) in typed_columns(csv_path).items():
        if kind == BYTES:
            spec.append({"name": h, "input": h, "analyzer": "vocabulary"})
        else:
            spec.append({"name": f"{h}/mean_var", "input": h, "analyzer": "mean_var"})
            spec.append({"name": f"{h}/min_max", "input": h, "analyzer": "min_max"})
            spec.append({"name": f"{h}/quantiles", "input": h, "analyzer": "quantiles",
                         "num_buckets": num_buckets})
    return spec


def exact_rank(sorted_values, b):
    """Rank of boundary b in the data: the number of values < b, plus half of those == b."""
    import bisect
    lo = bisect.bisect_left(sorted_values, b)
    hi = bisect.bisect_right(sorted_values, b)
    return lo + (hi - lo) / 2.0


__all__ = ["analyze", "full_spec", "typed_columns", "present_values", "exact_rank",
           "default_epsilon", "read_vocabulary_file", "MISSING", "INT", "FLOAT", "BYTES"]
