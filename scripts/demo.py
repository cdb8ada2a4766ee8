"""The Quickstart's main job, offline: fine-tune the `demo` preset on scikit-learn's digits,
export it to ONNX and Core ML with the explanation inside the graph (attention rollout, and
class-specific gradient rollout with the backward pass in the graph), predict a few test digits
with heatmaps, score the explanation methods, and benchmark every backend.
    python -m scripts.demo [--out runs/demo]"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from export import ExportConfig, export_model
from finetune import FinetuneConfig, finetune, load_data
from runtime.__main__ import main as runtime_main
from xai.__main__ import main as xai_main
from _infra.cli import run_cli


DEMO_COLUMNS = ["target", "accuracy", "agreement", "heatmap_corr", "latency_ms_p50", "explain_overhead", "size_mb"]


def save_test_digits(folder: Path, n: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    test = load_data("digits").test
    paths = []
    for i in range(n):
        image, label = test[i]
        paths.append(folder / f"digit{i}_true{label}.png")
        image.save(paths[-1])
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument("--epochs", type=float, default=30)
    parser.add_argument("--verbose", action="store_true", help="show other libraries' warnings, logs and progress")
    args = parser.parse_args()
    return run_cli(lambda: demo(args), args.verbose)


def demo(args) -> int:
    out = Path(args.out)
    print("1/5 fine-tune the demo preset on digits")
    result = finetune(FinetuneConfig(model="demo", data="digits", out=str(out / "checkpoint"), overwrite=True,
                                     epochs=args.epochs, lr=2e-3, batch_size=32, flip=False, logging_steps=200))
    m = result.metrics
    print(f"    test accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} -> {out / 'checkpoint'}")
    print("2/5 export with the explanation inside the graph")
    for name, fmt, explain in (("onnx", "onnx", "rollout"), ("coreml", "coreml", "rollout"),
                               ("onnx-gradrollout", "onnx", "gradrollout")):
        manifest = export_model(out / "checkpoint", out / name, ExportConfig(format=fmt, explain=explain, force=True))
        print(f"    {fmt} {manifest.precision} {explain}: {out / name / manifest.model_file}  "
              f"parity: {manifest.parity['status']}" + (f" ({manifest.parity['reason']})" if "reason" in manifest.parity else ""))
    print("3/5 predict and explain test digits (ONNX, rollout; and gradient rollout for classes 3 and 5)")
    images = save_test_digits(out / "images")
    code = runtime_main(["predict", str(out / "onnx"), *map(str, images), "--out", str(out / "predictions")])
    code |= runtime_main(["predict", str(out / "onnx-gradrollout"), str(images[2]), "--out", str(out / "classes"),
                          "--explain-class", "3", "5"])
    print("4/5 score the explanation methods (faithfulness, sanity) on 64 test digits")
    code |= xai_main(["eval", str(out / "checkpoint"), "--data", "digits", "--limit", "64", "--out", str(out / "xai")])
    print("5/5 benchmark backends against PyTorch on the digits test split (a subset of the registry, "
          "to stay quick; python -m bench runs them all)")
    from bench.__main__ import exit_status
    from bench.run import format_table, quick_targets, run_bench

    rows = run_bench(out / "checkpoint", "digits", quick_targets(), out=out / "bench")
    print(format_table(rows, DEMO_COLUMNS) + "\n(every column: " + str(out / "bench" / "report.md") + ")")
    code |= exit_status(rows, None, keep_going=False)
    print(f"\ncheckpoint and metrics: {out / 'checkpoint'}/metrics.json, confusion_matrix.png, training_curves.png")
    print(f"artifacts: {out / 'onnx'}/, {out / 'coreml'}/, {out / 'onnx-gradrollout'}/ (each with manifest.json)")
    print(f"explanations: {out / 'predictions'}/*_explain.png, *_probs.png; {out / 'classes'}/*_classes.png")
    print(f"explanation quality: {out / 'xai'}/xai_report.md; benchmark: {out / 'bench'}/report.md")
    return code


if __name__ == "__main__":
    sys.exit(main())
