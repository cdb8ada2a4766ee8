"""Which state a shared 2-CPU host is in, sampled next to ONNX Runtime latencies.

Each sample: the round trip of a cache line between CPU 0 and CPU 1 (`core_pingpong.c`, built with
`cc`), then the p50 of 10 calls of our `none` graph on two threads and on one, and of the GEMM floor
on two (`bench.timing.interleaved_latency`, one round). Run it for a few minutes beside nothing else
and compare the samples where the two-thread graph is slow with the others (docs/onnx.md, "The
host's two states").

    python -m lab.host_state --work bench-work/onnx-latency/deit-tiny --seconds 200
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.timing import interleaved_latency
from runtime.onnx import session


def build_pingpong(folder: Path) -> Path:
    """Compile core_pingpong.c into `folder`; exit 2 without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        print("host_state: no C compiler (cc, gcc or clang) on PATH", file=sys.stderr)
        sys.exit(2)
    binary = folder / "core_pingpong"
    subprocess.run([cc, "-O2", "-pthread", "-o", str(binary), str(Path(__file__).with_name("core_pingpong.c"))],
                   check=True)
    return binary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True,
                        help="an onnx-latency preset folder holding ours-none-fp32/ and floor-fp32.onnx")
    parser.add_argument("--seconds", type=float, default=200.0)
    args = parser.parse_args(argv)
    graph_path, floor_path = args.work / "ours-none-fp32" / "model.onnx", args.work / "floor-fp32.onnx"
    missing = [str(p) for p in (graph_path, floor_path) if not p.exists()]
    if missing:
        parser.exit(2, f"host_state: missing {', '.join(missing)} (run `python -m bench scenario onnx-latency` first)\n")
    ours, floor = session(graph_path, 2), session(floor_path, 2)
    image = {"image": np.zeros((1, *ours.get_inputs()[0].shape[1:]), np.uint8)}
    products = {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
                for i in floor.get_inputs()}
    runs = {"ours none 2 threads": (ours, image), "ours none 1 thread": (session(graph_path, 1), image),
            "floor 2 threads": (floor, products)}
    runners = {name: (lambda sess=sess, feed=feed: sess.run(None, feed)) for name, (sess, feed) in runs.items()}
    with tempfile.TemporaryDirectory() as tmp:
        pingpong = build_pingpong(Path(tmp))
        end = time.time() + args.seconds
        print("time  pingpong_ns  " + "  ".join(f"{name} (ms)" for name in runs))
        while time.time() < end:
            trip = float(subprocess.run([str(pingpong)], capture_output=True, text=True, check=True).stdout)
            timed = interleaved_latency(runners, rounds=1, iters=10, warmup=0, progress=False)
            print(time.strftime("%H:%M:%S"), f"{trip:.0f}", " ".join(f"{t['p50']:.1f}" for t in timed.values()),
                  flush=True)


if __name__ == "__main__":
    main()
