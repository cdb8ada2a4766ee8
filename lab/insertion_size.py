"""At which input sizes do deletion and insertion separate explanation methods? RISE's insertion
blur is fixed in pixels (an 11 px kernel, sigma 5), so the same digit shown larger keeps more of
its structure in the blurred start image. The `demo` architecture (2 layers, a 4 x 4 patch grid)
is fine-tuned on scikit-learn's digits as the demo does (`evit.demo.RECIPE`, for 10 epochs instead of 30),
at 32 and 128 px (patches of a quarter of the side, so the transformer sees the same 16 tokens),
and each model is scored
by `xai eval` on 64 test digits; per size and metric: how many method pairs the paired 95%
interval separates and how many maps are separated from `random`. Written to
benchmarks/results/xai-insertion-size.json (docs/xai.md, "Measured").

    python -m lab.insertion_size [--work runs/lab-insertion-size]
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

NAME = "xai-insertion-size"
SIZES = (32, 128)
METHODS = "raw-attention,rollout,grad-rollout,transformer-attribution,random,centre"
METRICS = ("perturbation-pos", "perturbation-neg", "deletion", "insertion")
EPOCHS = 10  # a third of the demo's 30, to fit a 2-core CPU


def train(size: int, work: Path) -> tuple[Path, float]:
    """The demo architecture at `size` px, fine-tuned on digits as the demo does: (checkpoint, accuracy)."""
    from evit.demo import RECIPE
    from finetune.config import FinetuneConfig
    from finetune.data import load_data
    from finetune.models import write_preset
    from finetune.presets import PRESETS
    from finetune.train import finetune

    preset = replace(PRESETS["demo"], name=f"demo-{size}", image_size=size, patch_size=size // 4)
    start = work / f"init-{size}"
    write_preset(preset, start, [str(x) for x in load_data("digits").labels])
    out = work / f"checkpoint-{size}"
    result = finetune(FinetuneConfig(model=str(start), out=str(out), overwrite=True, epochs=EPOCHS, **RECIPE))
    return out, float(result.metrics["accuracy"])


def score(checkpoint: Path, work: Path, size: int) -> dict:
    """`xai eval` of the checkpoint on 64 test digits: its xai_results.json."""
    from xai.__main__ import main

    out = work / f"xai-{size}"
    code = main(["eval", str(checkpoint), "--data", "digits", "--limit", "64", "--methods", METHODS, "--no-sanity",
                 "--out", str(out)])
    if code:
        raise SystemExit(code)
    return json.loads((out / "xai_results.json").read_text())


def summary_rows(size: int, accuracy: float, results: dict) -> list[dict]:
    """Per metric: pairs separated, maps separated from random, the widest interval."""
    rows = []
    for metric in METRICS:
        rs = [r for r in results["rows"] if r["metric"] == metric]
        separated = sum(d["verdict"] == "better" for r in rs for d in r["differences"].values())
        rows.append({"size": size, "metric": metric, "test_accuracy": accuracy,
                     "pairs": f"{separated} of {len(rs) * (len(rs) - 1) // 2}",
                     "vs_random": f"{sum(r.get('vs_random') == 'better' for r in rs)} of {len(rs) - 1}",
                     "means": ", ".join(f"{r['method']} {r['mean']:.3g}" for r in rs)})
    return rows


def main(argv: list[str] | None = None) -> int:
    from bench.scenarios import column, shaped, write_results

    parser = argparse.ArgumentParser(prog="python -m lab.insertion_size", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="runs/lab-insertion-size", help="folder for the checkpoints and reports")
    args = parser.parse_args(argv)
    work = Path(args.work)
    rows = []
    for size in SIZES:
        checkpoint, accuracy = train(size, work)
        rows += summary_rows(size, accuracy, score(checkpoint, work, size))
    columns = [column("size", "input px"), column("metric"), column("test_accuracy", "test accuracy", digits=4),
               column("pairs", "pairs separated"), column("vs_random", "better than random"), column("means")]
    about = (f"the demo architecture fine-tuned on digits ({EPOCHS} epochs) at each size, 64 test digits, methods "
             f"{METHODS.replace(',', ', ')}; paired 95% bootstrap intervals")
    print(write_results(NAME, shaped({"about": about, "command": "python -m lab.insertion_size"}, rows, columns)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
