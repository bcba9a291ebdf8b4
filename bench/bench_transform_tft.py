#!/usr/bin/env python3
"""Throughput of tensorflow-transform on a CSV, for comparison with weir-transform.

The preprocessing_fn z-scores every numeric column (tft.scale_to_z_score) and
maps every string column through its vocabulary
(tft.compute_and_apply_vocabulary), all on Beam's DirectRunner. Columns are
fed as TFX feeds ExampleGen output: large_list Arrow columns read as
VarLenSparseTensors ("" and "NA" missing; ints int64, floats float32).

Phases, each timed on its own:
  decode    CSV -> Arrow RecordBatches (pyarrow.csv; not tft, for reference)
  analyze   tft_beam.AnalyzeDataset (the full passes), a pipeline of its own
  apply     tft_beam.TransformDataset with that transform_fn, a pipeline of
            its own; the transformed batches are counted, not written
  combined  tft_beam.AnalyzeAndTransformDataset in one pipeline (--combined)

Usage:
  python bench/bench_transform_tft.py CSV [--mb N] [--batch-size 1000] [--combined]

--mb N first replicates CSV's rows (header once) into a temporary file of at
least N MB and runs on that. Run it with the interop venv's python
(scripts/test.sh builds it; tensorflow-transform comes from
tests/interop/requirements-tfdv.txt).
"""
import argparse
import os
import resource
import shutil
import sys
import tempfile
import time


def replicate(src, mb, dst):
    with open(src, "rb") as f:
        header = f.readline()
        body = f.read()
    if not body.endswith(b"\n"):
        body += b"\n"
    target = int(mb * 1e6)
    with open(dst, "wb") as f:
        f.write(header)
        size = len(header)
        while size < target:
            f.write(body)
            size += len(body)
    return dst


def decode(csv_path, batch_size):
    """(RecordBatches, {column: "INT"|"FLOAT"|"BYTES"}, rows)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(csv_path, convert_options=pcsv.ConvertOptions(
        null_values=["", "NA"], strings_can_be_null=True, quoted_strings_can_be_null=True))
    kinds, cols = {}, []
    for name, col in zip(table.column_names, table.columns):
        col = col.combine_chunks()
        if pa.types.is_integer(col.type):
            kinds[name], vals = "INT", col.cast(pa.int64())
        elif pa.types.is_floating(col.type):
            kinds[name], vals = "FLOAT", col.cast(pa.float32())
        else:
            kinds[name], vals = "BYTES", col.cast(pa.string()).cast(pa.large_binary())
        valid = np.asarray(pc.is_valid(vals))
        offsets = np.zeros(len(vals) + 1, np.int64)
        np.cumsum(valid, out=offsets[1:])
        # a missing value is an empty list: no value in that row, as with an absent feature
        cols.append(pa.LargeListArray.from_arrays(pa.array(offsets), vals.filter(pa.array(valid))))
    full = pa.RecordBatch.from_arrays(cols, table.column_names)
    # take() copies: a slice would pickle (for beam.Create) the whole file's buffers
    batches = [full.take(pa.array(np.arange(i, min(i + batch_size, full.num_rows))))
               for i in range(0, full.num_rows, batch_size)]
    return batches, kinds, full.num_rows


def adapter_config(batches):
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx_bsl.tfxio import tensor_adapter

    reps = {}
    for name in batches[0].schema.names:
        rep = schema_pb2.TensorRepresentation()
        rep.varlen_sparse_tensor.column_name = name
        reps[name] = rep
    return tensor_adapter.TensorAdapterConfig(batches[0].schema, reps)


def make_preprocessing_fn(kinds):
    import tensorflow_transform as tft

    def fn(inputs):
        out = {}
        for name, kind in kinds.items():
            if kind == "BYTES":
                out[name] = tft.compute_and_apply_vocabulary(inputs[name])
            else:
                out[name] = tft.scale_to_z_score(inputs[name])
        return out

    return fn


def peak_rss_mb():
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return self_kb / 1024, child_kb / 1024


def count_rows(transformed, out_file):
    import apache_beam as beam
    return (transformed
            | "Rows" >> beam.Map(lambda rb_and_extra: rb_and_extra[0].num_rows)
            | "Sum" >> beam.CombineGlobally(sum)
            | "Write" >> beam.Map(lambda n: open(out_file, "w").write(str(n))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--mb", type=float, help="replicate the CSV to at least this many MB first")
    ap.add_argument("--batch-size", type=int, default=1000, help="rows per RecordBatch (default 1000)")
    ap.add_argument("--combined", action="store_true",
                    help="also time AnalyzeAndTransformDataset in one pipeline")
    ap.add_argument("--workdir", default=None, help="where temporary files go")
    args = ap.parse_args()

    import apache_beam as beam
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam

    tmp = tempfile.mkdtemp(prefix="bench-tft-", dir=args.workdir)
    try:
        csv_path = args.csv
        if args.mb:
            csv_path = replicate(args.csv, args.mb, os.path.join(tmp, "data.csv"))
        size_mb = os.path.getsize(csv_path) / 1e6
        load = os.getloadavg()
        print(f"tft {tft.__version__}, tensorflow {tf.__version__}, apache-beam {beam.__version__}, "
              f"DirectRunner; {os.cpu_count()} cpus, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

        t0 = time.perf_counter()
        batches, kinds, rows = decode(csv_path, args.batch_size)
        t_decode = time.perf_counter() - t0
        n_num = sum(k != "BYTES" for k in kinds.values())
        print(f"input: {csv_path} {size_mb:.1f} MB, {rows} rows, {n_num} numeric + "
              f"{len(kinds) - n_num} string columns, {len(batches)} batches of {args.batch_size}")
        print(f"decode   {t_decode:8.2f} s  {rows / t_decode:12.0f} rows/s")

        config = adapter_config(batches)
        fn = make_preprocessing_fn(kinds)
        tfn_dir = os.path.join(tmp, "transform_fn")

        t0 = time.perf_counter()
        with beam.Pipeline(runner="DirectRunner") as p, tft_beam.Context(temp_dir=os.path.join(tmp, "a")):
            data = p | beam.Create(batches, reshuffle=False)
            transform_fn = (data, config) | tft_beam.AnalyzeDataset(fn)
            _ = transform_fn | tft_beam.WriteTransformFn(tfn_dir)
        t_analyze = time.perf_counter() - t0
        print(f"analyze  {t_analyze:8.2f} s  {rows / t_analyze:12.0f} rows/s")

        counted = os.path.join(tmp, "rows_applied")
        t0 = time.perf_counter()
        with beam.Pipeline(runner="DirectRunner") as p, tft_beam.Context(temp_dir=os.path.join(tmp, "t")):
            data = p | beam.Create(batches, reshuffle=False)
            transform_fn = p | tft_beam.ReadTransformFn(tfn_dir)
            (transformed, _meta) = ((data, config), transform_fn) | tft_beam.TransformDataset(
                output_record_batches=True)
            count_rows(transformed, counted)
        t_apply = time.perf_counter() - t0
        applied = int(open(counted).read())
        assert applied == rows, (applied, rows)
        print(f"apply    {t_apply:8.2f} s  {rows / t_apply:12.0f} rows/s")

        t_combined = None
        if args.combined:
            counted = os.path.join(tmp, "rows_combined")
            t0 = time.perf_counter()
            with beam.Pipeline(runner="DirectRunner") as p, tft_beam.Context(temp_dir=os.path.join(tmp, "c")):
                data = p | beam.Create(batches, reshuffle=False)
                (transformed, _meta), _tfn = (data, config) | tft_beam.AnalyzeAndTransformDataset(
                    fn, output_record_batches=True)
                count_rows(transformed, counted)
            t_combined = time.perf_counter() - t0
            assert int(open(counted).read()) == rows
            print(f"combined {t_combined:8.2f} s  {rows / t_combined:12.0f} rows/s "
                  f"(AnalyzeAndTransformDataset)")

        wall = t_decode + t_analyze + t_apply + (t_combined or 0)
        rss_self, rss_child = peak_rss_mb()
        load = os.getloadavg()
        print(f"wall     {wall:8.2f} s (decode + analyze + apply{' + combined' if t_combined else ''})")
        print(f"peak RSS {rss_self:8.0f} MB (children {rss_child:.0f} MB); "
              f"load average after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
