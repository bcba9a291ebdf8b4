"""Runs TFX's CsvExampleGen executor on one CSV file, for bench_example_gen.sh.

  python tfx_csv_example_gen.py run INPUT_BASE OUTPUT_URI [BEAM_ARG...]
      Executor.Do() on INPUT_BASE/*.csv with the split config train:4 eval:1
      (hash buckets) and gzip TFRecord output, the exec properties the
      CsvExampleGen component's driver would hand it. With no BEAM_ARG the
      pipeline runs on Beam's default DirectRunner. Also records the peak of
      the summed RSS of this process and its descendants (sampled every
      500 ms; GNU time reports the largest single process instead) and prints
      it as "tree peak RSS KiB: N", with the most processes seen at once as
      "tree processes: N".

  python tfx_csv_example_gen.py count OUTPUT_URI
      Counts the records of every Split-*/ with tf.data.TFRecordDataset (GZIP)
      and prints "split NAME N" lines and "total N".

This needs a Python with tfx installed (bench/requirements-tfx.txt).
"""

import glob
import os
import sys
import threading
import time


def _tree_rss_kib(root_pid):
    """(sum of VmRSS in KiB, process count) over root_pid and descendants."""
    children = {}
    rss = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                ppid, kib = None, 0
                for line in f:
                    if line.startswith("PPid:"):
                        ppid = int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        kib = int(line.split()[1])
        except OSError:
            continue
        pid = int(entry)
        rss[pid] = kib
        children.setdefault(ppid, []).append(pid)
    total, count, stack = 0, 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        count += 1
        stack.extend(children.get(pid, []))
    return total, count


class _RssSampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.processes = 0
        self._done = threading.Event()

    def run(self):
        while not self._done.is_set():
            self._sample()
            self._done.wait(0.5)

    def _sample(self):
        kib, n = _tree_rss_kib(os.getpid())
        self.peak = max(self.peak, kib)
        self.processes = max(self.processes, n)

    def stop(self):
        self._done.set()
        self.join()
        self._sample()


def run(input_base, output_uri, beam_args):
    sampler = _RssSampler()
    sampler.start()
    t0 = time.monotonic()

    from tfx.components.example_gen.csv_example_gen import executor
    from tfx.dsl.components.base import base_beam_executor
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts
    from tfx.types import standard_component_specs as specs
    from tfx.utils import proto_utils

    t_import = time.monotonic() - t0

    examples = standard_artifacts.Examples()
    examples.uri = output_uri
    input_config = example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name="single_split", pattern="*.csv"),
    ])
    output_config = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=4),
            example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1),
        ]))
    exec_properties = {
        specs.INPUT_BASE_KEY: input_base,
        specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
        specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(output_config),
        specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=beam_args,
        tmp_dir=os.path.join(output_uri, ".temp", ""),
        unique_id="bench")
    t1 = time.monotonic()
    executor.Executor(context).Do({}, {specs.EXAMPLES_KEY: [examples]},
                                  exec_properties)
    t_do = time.monotonic() - t1
    sampler.stop()
    print(f"import s: {t_import:.2f}")
    print(f"Do() s: {t_do:.2f}")
    print(f"split_names: {examples.split_names}")
    print(f"tree peak RSS KiB: {sampler.peak}")
    print(f"tree processes: {sampler.processes}")


def count(output_uri):
    import tensorflow as tf

    total = 0
    for split_dir in sorted(glob.glob(os.path.join(output_uri, "Split-*"))):
        files = sorted(glob.glob(os.path.join(split_dir, "*.gz")))
        n = 0
        if files:
            ds = tf.data.TFRecordDataset(files, compression_type="GZIP")
            n = int(ds.reduce(tf.constant(0, tf.int64), lambda c, _: c + 1))
        print(f"split {os.path.basename(split_dir)[len('Split-'):]} {n}"
              f" ({len(files)} files)")
        total += n
    print(f"total {total}")


def main(argv):
    if len(argv) >= 3 and argv[1] == "run":
        run(argv[2], argv[3], argv[4:])
    elif len(argv) == 3 and argv[1] == "count":
        count(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
