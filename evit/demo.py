"""`evit demo --out DIR`: the Quickstart's main job, offline. Fine-tune the `demo` preset on
scikit-learn's digits, export it to ONNX and Core ML with the explanation inside the graph
(attention rollout, and class-specific gradient rollout with the backward pass in the graph),
predict a few test digits with heatmaps, score the explanation methods, and benchmark every
backend. Needs the [bench] extra (torch, transformers, coremltools, scikit-learn); about a minute
on 2 CPU cores."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _infra.cli import ArgumentParser, add_common, positive_number, run_cli

PROG = "evit demo"
EXTRA = "bench"  # fine-tuning, both exports and the benchmark
DEMO_COLUMNS = ["target", "accuracy", "agreement", "heatmap_corr", "latency_ms_p50", "explain_overhead", "size_mb"]
ARTIFACTS = (("onnx", "onnx", "rollout"), ("coreml", "coreml", "rollout"),  # (folder, format, explanation)
             ("onnx-gradrollout", "onnx", "gradrollout"))
FORCE_HELP = ("replace an existing --out that the demo wrote (it does so without the flag too: each of its "
              "folders is rewritten whole; a folder the toolkit did not write is never replaced)")

# The methods the demo scores (a quick subset; `evit xai eval` without --methods runs them all:
# integrated gradients and SmoothGrad alone take longer than the rest of the demo)
DEMO_METHODS = "rollout,grad-rollout,transformer-attribution,attnlrp,random,centre"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=prog, description=__doc__)
    add_common(parser, "folder for the checkpoint, the three artifacts, the pictures and the reports", FORCE_HELP)
    parser.add_argument("--epochs", type=positive_number, default=30, help="fine-tuning epochs")
    return parser


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    args = build_parser(prog).parse_args(sys.argv[1:] if argv is None else list(argv))
    return run_cli(lambda: demo(Path(args.out), args.epochs), args.verbose, extra=EXTRA)


def demo(out: Path, epochs: float = 30) -> int:
    """Every step into `out`; 0 when every prediction, score and benchmark row worked, else 1."""
    print("1/5 fine-tune the demo preset on digits")
    train(out, epochs)
    print("2/5 export with the explanation inside the graph")
    export_all(out)
    print("3/5 predict and explain test digits (ONNX, rollout; and gradient rollout for classes 3 and 5)")
    code = predict(out)
    print("4/5 score explanation methods against the random and centre baselines (faithfulness, sanity) on 64 test digits")
    from xai.__main__ import main as xai_main

    code |= xai_main(["eval", str(out / "checkpoint"), "--data", "digits", "--limit", "64", "--methods", DEMO_METHODS,
                      "--out", str(out / "xai")])
    print("5/5 benchmark backends against PyTorch on the digits test split (a subset of the registry, "
          "to stay quick; evit bench runs them all)")
    code |= bench(out)
    print_where(out)
    return code


# how the demo fine-tunes on the digits (lab/insertion_size trains its models the same way)
RECIPE = {"data": "digits", "lr": 2e-3, "batch_size": 32, "flip": False, "logging_steps": 200}


def train(out: Path, epochs: float) -> None:
    from finetune import FinetuneConfig, finetune

    result = finetune(FinetuneConfig(model="demo", out=str(out / "checkpoint"), overwrite=True, epochs=epochs, **RECIPE))
    m = result.metrics
    print(f"    test accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f} -> {out / 'checkpoint'}")


def export_all(out: Path) -> None:
    from export import ExportConfig, export_model

    for name, fmt, explain in ARTIFACTS:
        manifest = export_model(out / "checkpoint", out / name, ExportConfig(format=fmt, explain=explain, force=True))
        reason = f" ({manifest.parity['reason']})" if "reason" in manifest.parity else ""
        print(f"    {fmt} {manifest.precision} {explain}: {out / name / manifest.model_file}  "
              f"parity: {manifest.parity['status']}{reason}")


def save_test_digits(folder: Path, n: int = 4) -> list[Path]:
    """The first `n` digits of the test split as PNG files named with their true label."""
    from finetune import load_data

    folder.mkdir(parents=True, exist_ok=True)
    test = load_data("digits").test
    paths = []
    for i in range(n):
        image, label = test[i]
        paths.append(folder / f"digit{i}_true{label}.png")
        image.save(paths[-1])
    return paths


def predict(out: Path) -> int:
    from runtime.__main__ import main as runtime_main

    images = save_test_digits(out / "images")
    code = runtime_main(["predict", str(out / "onnx"), *map(str, images), "--out", str(out / "predictions")])
    return code | runtime_main(["predict", str(out / "onnx-gradrollout"), str(images[2]), "--out",
                                str(out / "classes"), "--explain-class", "3,5"])


def bench(out: Path) -> int:
    from bench.__main__ import exit_status
    from bench.run import format_table, quick_targets, run_bench

    rows = run_bench(out / "checkpoint", "digits", quick_targets(), out=out / "bench")
    print(format_table(rows, DEMO_COLUMNS) + f"\n(every column: {out / 'bench' / 'report.md'})")
    return exit_status(rows, None, keep_going=False)


def print_where(out: Path) -> None:
    print(f"\ncheckpoint and metrics: {out / 'checkpoint'}/metrics.json, confusion_matrix.png, training_curves.png")
    print(f"artifacts: {', '.join(f'{out / name}/' for name, _, _ in ARTIFACTS)} (each with manifest.json)")
    print(f"explanations: {out / 'predictions'}/*_explain.png, *_probs.png; {out / 'classes'}/*_classes.png")
    print(f"explanation quality: {out / 'xai'}/xai_report.md; benchmark: {out / 'bench'}/report.md")


if __name__ == "__main__":
    sys.exit(main())
