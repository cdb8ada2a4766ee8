"""`python -m xai eval SOURCE --data DATA --out DIR [--methods A,B] [--limit N]`

SOURCE is a checkpoint folder (every registered method, computed with PyTorch) or an `export`
artifact folder (its in-graph map, run by its `runtime` backend). The library modules of `xai`
import none of our packages; this CLI sits on top and loads models through `runtime` and data
through `finetune`'s data sources, imported inside the functions that need them.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from _infra.cli import ArgumentParser, add_common, did_you_mean, named_or_path, reading, seed, unknown_name
from .evaluate import RESULTS, XAI_COMMAND, EvalInputError, evaluate, markdown_table, write_report
from .methods import METHODS, get_methods
from .metrics import METRICS
from .metrics.sanity import PASS_BELOW


PROG = "python -m xai"


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    from finetune.data import BUILTIN_DATA

    parser = ArgumentParser(prog=prog, description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="eval")
    p = sub.add_parser("eval", help="score explanation methods for faithfulness, localization and sanity",
                       description="Score explanation methods for faithfulness, localization and sanity.")
    p.add_argument("source", help="checkpoint folder (or hub id), or export artifact folder")
    p.add_argument("--data", default="digits-clutter", type=named_or_path(list(BUILTIN_DATA), "data"),
                   help="data source as in finetune (parquet folder, image folder, hub id, digits, digits-clutter); "
                        "its test split is used; digits-clutter adds the pointing game (default: digits-clutter)")
    add_common(p, "report folder (xai_results.json, xai_report.md, figures)",
               "replace an existing --out that xai eval wrote (it does so without the flag too: a result folder "
               "is rewritten whole; a folder the toolkit did not write is never replaced)")
    p.add_argument("--methods", default=None, metavar="A,B",
                   help=f"comma list, for a checkpoint (default: all): {', '.join(METHODS)}")
    p.add_argument("--metrics", default=None, metavar="A,B",
                   help="comma list (default: all but " + ", ".join(n for n, m in METRICS.items() if not m.default)
                        + ", which are costly and scored only when named): " + ", ".join(METRICS))
    p.add_argument("--limit", type=int, default=500,
                   help="evaluate N test images, taken in turn from each class (seeded; all when fewer)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the --limit sample (>= 0)")
    p.add_argument("--label-map", default=None,
                   help="for an image-folder tree whose folder names are not the model's labels: JSON "
                        "{folder: index or label}, or a text file with one folder per line in the model's label "
                        "order (ImageNet's LOC_synset_mapping.txt)")
    p.add_argument("--backend", default=None, help="runtime backend for an artifact (default: from its manifest)")
    p.add_argument("--no-sanity", action="store_true", help="skip the model-randomisation sanity check")
    return parser


def load_test_set(data: str, labels: list[str], label_map: str | None):
    """The images to evaluate, targets in the model's label order: an image-folder tree whole (its
    test/ split when it has one), folders matched to the model's labels; else the source's test split."""
    from finetune.data import BUILTIN_DATA, load_data
    from finetune.eval_data import load_eval_folder

    path = Path(data).expanduser()
    if data not in BUILTIN_DATA and path.is_dir() and not any(path.glob("*.parquet")):
        return load_eval_folder(path, labels, label_map)
    if label_map is not None:
        raise EvalInputError("--label-map applies to an image-folder tree only")
    with reading(f"data '{data}'"):
        loaded = load_data(data)
    if [str(x) for x in loaded.labels] != [str(x) for x in labels]:
        raise EvalInputError(f"the data's labels {loaded.labels} differ from the model's {labels}")
    return loaded.test


def load_images(data: str, image_size: tuple[int, int], labels: list[str], limit: int, seed: int = 0,
                label_map: str | None = None, resample: str = "bilinear"):
    """`limit` test images sampled across classes, resized to the model with its own filter
    (`resample`, PIL's name as manifests give it); targets; boxes scaled to match."""
    from finetune.eval_data import sample_across_classes, take
    from runtime.images import resize_batch

    with reading(f"data '{data}'"):
        full = load_test_set(data, labels, label_map)
        test = take(full, sample_across_classes(full.targets, limit, seed))
        pil = [test[i][0] for i in range(len(test))]
    images = resize_batch(pil, image_size, resample)
    boxes = None
    if test.boxes is not None:
        scale = np.array([image_size[1] / pil[0].width, image_size[0] / pil[0].height] * 2)
        boxes = np.round(test.boxes * scale).astype(np.int64)
    return images, test.targets, boxes


def checkpoint_subject(source: str):
    from runtime.checkpoint import load_checkpoint

    from .subjects import ModelSubject

    ck = load_checkpoint(source)
    subject = ModelSubject(ck.model, ck.patch_grid, ck.n_special_tokens, ck.mean, ck.std, name=f"pytorch {source}")
    return subject, ck.image_size, ck.labels, ck.resample


def artifact_subject(folder: str, backend: str | None, scratch: Path | None = None):
    import runtime

    from .subjects import GraphSubject

    predictor = runtime.load(folder, backend=backend)
    m = predictor.manifest
    subject = GraphSubject(run=predictor.backend.run_batched, heatmap=predictor.heatmaps_from,
                           method_name=f"in-graph {m.explain} ({m.format} {m.precision})",
                           grid=tuple(m.patch_grid), n_special=m.n_special_tokens,
                           name=f"{m.format} {m.precision} {folder}",
                           randomised_factory=lambda: randomised_artifact(folder, backend, scratch),
                           class_input=bool(m.class_input), mean=tuple(m.preprocessing["mean"]))
    return subject, tuple(m.image_size), m.labels, m.preprocessing["resample"]


def randomised_artifact(folder: str, backend: str | None, scratch: Path | None = None):
    """The artifact's source checkpoint with every weight re-initialised, exported with the same
    options to a temporary folder inside `scratch` (the report's unfinished folder, which the next
    run removes if this one is killed; default: the system's temporary folder): the sanity check
    for an in-graph explanation."""
    import shutil
    import tempfile

    from export.api import export_model
    from export.config import ExportConfig
    from runtime.checkpoint import load_checkpoint
    from runtime.manifest import read_manifest

    m = read_manifest(Path(folder))
    source = (m.source or {}).get("checkpoint")
    if not source or not Path(source).is_dir():
        return None
    from .subjects import randomise_weights

    ck = load_checkpoint(source)
    randomise_weights(ck.model)
    from transformers import AutoImageProcessor

    tmp = Path(tempfile.mkdtemp(prefix="xai-randomised-", dir=scratch))
    try:  # the backend holds the graph in memory once loaded: the files can go
        ck.model.save_pretrained(tmp / "checkpoint", safe_serialization=True)
        AutoImageProcessor.from_pretrained(source, use_fast=False).save_pretrained(tmp / "checkpoint")
        cfg = ExportConfig(format=m.format, precision=m.precision, explain=m.explain, force=True)
        export_model(tmp / "checkpoint", tmp / "artifact", cfg)
        subject, *_ = artifact_subject(str(tmp / "artifact"), backend)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return subject


def parse_names(text: str | None, flag: str = "--methods", known=METHODS) -> list[str] | None:
    """`--methods a,b` (or `--metrics`): None (the default set) when not given; empty, blank,
    repeated or unknown names are refused, each unknown one with its nearest known name."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",")]
    if not any(names):
        raise EvalInputError(f"{flag} is empty; give one or more of: {', '.join(known)} (or leave it out)")
    if "" in names:
        raise EvalInputError(f"{flag} '{text}' has an empty name")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise EvalInputError(f"{flag} names {', '.join(repeated)} more than once")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise EvalInputError(f"unknown {flag[2:-1]}(s) {', '.join(n + did_you_mean(n, known) for n in unknown)}; "
                             f"known: {', '.join(known)}")
    return names


def check_options(args) -> tuple[list, list | None]:
    """Every option checked before any work; the methods and the metrics (None: the default set) to run."""
    from runtime.backend import BACKENDS

    if args.limit < 1:
        raise EvalInputError("--limit must be >= 1")
    if args.backend is not None and args.backend not in BACKENDS:
        raise EvalInputError(unknown_name("backend", args.backend, BACKENDS))
    metrics = parse_names(args.metrics, "--metrics", METRICS)
    return get_methods(parse_names(args.methods)), metrics and [METRICS[n] for n in metrics]


def run_eval(args) -> int:
    from _infra.outputs import path_sources, result_folder

    methods, metrics = check_options(args)
    out = Path(args.out)
    with result_folder(out, RESULTS, XAI_COMMAND, "a report folder of xai eval",
                       sources=path_sources(args.source, args.data, args.label_map)) as work:
        result, paths = evaluate_into(work, args, methods, metrics)
    paths = {k: out / p.name for k, p in paths.items()}
    data = json.loads(paths["json"].read_text())
    print(f"{result.subject}: {result.n_images} images, accuracy {result.accuracy:.4f}; "
          "mean [95% bootstrap interval] per method and metric\n")
    print(markdown_table(data))
    failing = sorted({r["method"] for r in data["rows"] if r.get("passes") == "no" and not r["baseline"]})
    if failing:
        print(f"\nsanity check failed (95% upper end of |rank correlation| or SSIM with a randomised model "
              f">= {PASS_BELOW}): {', '.join(failing)}")
    figures = ", ".join(str(paths[k]) for k in ("grid", "curves", "cascade") if k in paths)
    print(f"\nreport: {paths['report']}  figures: {figures}")
    return 0


def machine() -> dict:
    """CPU, cores and library versions for the results header (bench's probe)."""
    from bench.timing import machine_info

    return machine_info()


def evaluate_into(work: Path, args, methods: list, metrics: list | None = None):
    """Load the model and the images, evaluate, write the report into `work`: (result, paths)."""
    from runtime.checkpoint import CheckpointError
    from runtime.manifest import MANIFEST

    is_artifact = (Path(args.source) / MANIFEST).is_file()
    try:
        subject, size, labels, resample = (artifact_subject(args.source, args.backend, work) if is_artifact
                                           else checkpoint_subject(args.source))
    except CheckpointError as e:
        raise EvalInputError(str(e)) from e
    images, targets, boxes = load_images(args.data, size, labels, args.limit, args.seed, args.label_map, resample)
    result = evaluate(subject, images, targets, boxes, methods, sanity_check=not args.no_sanity, metrics=metrics)
    return result, write_report(result, work, images, command="python -m xai " + shlex.join(sys.argv[1:]),
                                machine=machine())


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    from _infra.cli import run_cli

    args = build_parser(prog).parse_args(argv)
    return run_cli(lambda: run_eval(args), args.verbose, extra="train")


if __name__ == "__main__":
    sys.exit(main())
