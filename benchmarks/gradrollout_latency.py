"""Cost of a class-specific explanation on the device: the in-graph backward pass.

    python benchmarks/gradrollout_latency.py [--preset deit-tiny] [--threads 2] [--rounds 10]

DeiT-tiny architecture at 224 px (weights at random: latency does not depend on them), batch 1,
ONNX Runtime fp32 on the CPU, the three graphs of one checkpoint timed side by side in
interleaved rounds: `--explain none` (logits only), `--explain rollout` and
`--explain gradrollout` (forward + hand-written backward + gradient-weighted rollout).
Target (issue #8): gradrollout at most 3x the latency of none.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import interleaved_latency, machine_info  # noqa: E402
from export import ExportConfig, export_model  # noqa: E402
from finetune.models import write_preset  # noqa: E402
from finetune.presets import PRESETS  # noqa: E402
from runtime.onnx import OnnxBackend  # noqa: E402

EXPLAINS = ("none", "rollout", "gradrollout")
TARGET_RATIO = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="deit-tiny", choices=list(PRESETS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/results/gradrollout_latency.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gradrollout-latency-"))
    write_preset(PRESETS[args.preset], work / "checkpoint", [f"class_{i}" for i in range(10)], init="hf")
    size = PRESETS[args.preset].image_size
    image = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    runners, sizes, parity = {}, {}, {}
    for explain in EXPLAINS:
        manifest = export_model(work / "checkpoint", work / explain, ExportConfig(explain=explain))
        backend = OnnxBackend(work / explain, manifest, threads=args.threads)
        runners[explain] = (lambda b=backend: b.run(image))
        sizes[explain] = round((work / explain / manifest.model_file).stat().st_size / 1e6, 2)
        parity[explain] = {k: v["max_abs_diff"] for k, v in manifest.parity["outputs"].items()}
    times = interleaved_latency(runners, rounds=args.rounds, iters=args.iters)
    p50 = {k: v["p50"] for k, v in times.items()}
    ratios = {"gradrollout / none": p50["gradrollout"] / p50["none"],
              "rollout / none": p50["rollout"] / p50["none"]}
    result = {"preset": args.preset, "threads": args.threads, "batch": 1, "machine": machine_info(),
              "latency_ms": times, "ratios": ratios, "size_mb": sizes, "parity_max_abs_diff": parity,
              "target": f"gradrollout / none <= {TARGET_RATIO}", "met": ratios["gradrollout / none"] <= TARGET_RATIO}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"\n{args.preset}, batch 1, ONNX Runtime fp32, {args.threads} threads, {result['machine']['cpu']}")
    print("| graph | p50 ms | p90 ms | ratio to none | size MB | parity vs PyTorch (max abs diff) |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, t in times.items():
        diffs = ", ".join(f"{k} {v:.1e}" for k, v in parity[name].items())
        print(f"| {name} | {t['p50']:.2f} | {t['p90']:.2f} | {t['p50'] / p50['none']:.2f} | {sizes[name]} | {diffs} |")
    print(f"\ntarget gradrollout / none <= {TARGET_RATIO}: {ratios['gradrollout / none']:.2f} "
          f"({'met' if result['met'] else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
