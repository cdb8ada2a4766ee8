"""Explanation overhead and latency against optimum's export, DeiT-tiny at 224 px, batch 1, ONNX Runtime.

    python benchmarks/export_latency.py [--preset deit-tiny] [--threads 2] [--rounds 10]

Measured side by side in one run with interleaved rounds:
(a) ours --explain rollout vs ours --explain none (explanation overhead), fp32 and int8;
(b) ours --explain rollout vs `optimum-cli export onnx` (logits only) at fp32, and vs
    `optimum-cli onnxruntime quantize --avx2` (dynamic int8) at int8.
Our graphs take uint8 images and normalise inside; optimum's take normalised float pixels.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import interleaved_latency, machine_info  # noqa: E402
from export import ExportConfig, export_model  # noqa: E402
from finetune.models import write_preset  # noqa: E402
from finetune.presets import PRESETS  # noqa: E402


def optimum_exports(checkpoint: Path, work: Path) -> dict[str, Path]:
    cli = str(Path(sys.executable).with_name("optimum-cli"))
    fp32, int8 = work / "optimum-fp32", work / "optimum-int8"
    subprocess.run([cli, "export", "onnx", "--model", str(checkpoint), "--task", "image-classification", str(fp32)],
                   check=True, capture_output=True)
    subprocess.run([cli, "onnxruntime", "quantize", "--onnx_model", str(fp32), "--avx2", "-o", str(int8)],
                   check=True, capture_output=True)
    return {"fp32": fp32 / "model.onnx", "int8": next(int8.glob("*.onnx"))}


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="deit-tiny", choices=list(PRESETS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/results/export_latency.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="export-latency-"))
    checkpoint = work / "checkpoint"
    write_preset(PRESETS[args.preset], checkpoint, [f"class_{i}" for i in range(10)], init="hf")
    size = PRESETS[args.preset].image_size
    ours = {}
    for precision in ("fp32", "int8"):
        for explain in ("rollout", "none"):
            folder = work / f"ours-{explain}-{precision}"
            export_model(checkpoint, folder, ExportConfig(precision=precision, explain=explain))
            ours[f"ours {explain} {precision}"] = folder / "model.onnx"
    theirs = {f"optimum {p}": path for p, path in optimum_exports(checkpoint, work).items()}
    image = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    pixels = (image.transpose(0, 3, 1, 2) / 255.0 - 0.45).astype(np.float32) / 0.225
    runners = {}
    for name, path in {**ours, **theirs}.items():
        sess = session(path, args.threads)
        feed = {sess.get_inputs()[0].name: image if name.startswith("ours") else pixels}
        runners[name] = (lambda s=sess, f=feed: s.run(None, f))
    times = interleaved_latency(runners, rounds=args.rounds, iters=args.iters)
    p50 = {k: v["p50"] for k, v in times.items()}
    ratios = {"explanation overhead fp32 (rollout / none)": p50["ours rollout fp32"] / p50["ours none fp32"],
              "explanation overhead int8 (rollout / none)": p50["ours rollout int8"] / p50["ours none int8"],
              "ours rollout fp32 / optimum fp32": p50["ours rollout fp32"] / p50["optimum fp32"],
              "ours rollout int8 / optimum int8": p50["ours rollout int8"] / p50["optimum int8"]}
    sizes = {k: round(Path(p).stat().st_size / 1e6, 2) for k, p in {**ours, **theirs}.items()}
    result = {"preset": args.preset, "threads": args.threads, "batch": 1, "machine": machine_info(),
              "latency_ms": times, "ratios": ratios, "size_mb": sizes}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\n{args.preset}, batch 1, {args.threads} threads, {result['machine']['cpu']}")
    print("| graph | p50 ms | p90 ms | size MB |\n| --- | ---: | ---: | ---: |")
    for name, t in times.items():
        print(f"| {name} | {t['p50']:.2f} | {t['p90']:.2f} | {sizes[name]} |")
    print("\n| ratio | value |\n| --- | ---: |")
    for name, r in ratios.items():
        print(f"| {name} | {r:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
