"""`python -m xai eval SOURCE --data DATA --out DIR [--methods A,B | --protocol NAME] [--limit N]
[--device cpu|cuda|mps] [--batch-size B]`

SOURCE is a checkpoint folder (every registered method, computed with PyTorch) or an `export`
artifact folder (its in-graph map, run by its `runtime` backend). The library modules of `xai`
import none of our packages; this CLI sits on top and loads models through `runtime` and data
through `finetune`'s data sources, imported inside the functions that need them.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from _infra.cli import ArgumentParser, add_common, did_you_mean, named_or_path, reading, seed, unknown_name
from .evaluate import RESULTS, XAI_COMMAND, EvalInputError, evaluate, markdown_table, write_report
from .methods import METHODS, get_methods
from .metrics import METRICS
from .metrics.sanity import PASS_BELOW
from .protocols import PROTOCOLS

DEVICES = ("cpu", "cuda", "mps")


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
    p.add_argument("--protocol", default=None, choices=list(PROTOCOLS),
                   help="a published evaluation's methods, metrics and options (instead of --methods and --metrics): "
                        + "; ".join(f"{n}: {pr.summary}" for n, pr in PROTOCOLS.items()))
    p.add_argument("--device", default="cpu", choices=DEVICES,
                   help="where a checkpoint's forwards and methods run (cuda or mps only where torch reports it)")
    p.add_argument("--batch-size", type=int, default=64,
                   help="images per forward and per explained chunk of a checkpoint (the random baseline's noise "
                        "is seeded per chunk). Under torchrun (WORLD_SIZE, RANK set) each process takes a "
                        "consecutive slice of whole chunks; rank 0 gathers the scores and writes the report")
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


def checkpoint_subject(source: str, device: str = "cpu", batch: int = 64, progress: bool = False):
    from runtime.checkpoint import load_checkpoint

    from .subjects import ModelSubject

    ck = load_checkpoint(source)
    subject = ModelSubject(ck.model.to(device), ck.patch_grid, ck.n_special_tokens, ck.mean, ck.std,
                           name=f"pytorch {source}", batch=batch, device=device, progress=progress)
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


@dataclass(frozen=True)
class Plan:
    """What the options ask `xai eval` to run."""

    methods: list
    metrics: list | None  # None: the default set
    sanity: bool
    protocol: str | None = None


@dataclass(frozen=True)
class Shard:
    """This process's place in a `torchrun` launch (WORLD_SIZE, RANK, LOCAL_RANK); one process without."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "Shard":
        env = os.environ
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

    def part(self, n: int, batch: int) -> slice:
        """This rank's consecutive slice of `n` images, whole chunks of `batch` (as one process
        would chunk them, so every image's maps and scores are the same)."""
        chunks = -(-n // batch)
        if chunks < self.world:
            raise EvalInputError(f"{self.world} processes for {n} images in {chunks} chunk(s) of --batch-size "
                                 f"{batch}: use fewer processes, a smaller --batch-size or a larger --limit")
        lo, hi = self.rank * chunks // self.world, (self.rank + 1) * chunks // self.world
        return slice(lo * batch, min(hi * batch, n))


def check_device(device: str) -> str:
    """`device` when torch reports it available; the process's own GPU under torchrun."""
    import torch

    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available[device]:
        raise EvalInputError(f"--device {device}: torch {torch.__version__} reports no {device} device here; "
                             f"available: {', '.join(d for d, ok in available.items() if ok)}")
    shard = Shard.from_env()
    if device == "cuda" and shard.world > 1:
        return f"cuda:{shard.local_rank % torch.cuda.device_count()}"
    return device


def check_protocol(args) -> Plan | None:
    """The protocol's plan, or None without --protocol; it fixes the methods and the metrics."""
    if args.protocol is None:
        return None
    protocol = PROTOCOLS[args.protocol]
    if args.methods is not None or args.metrics is not None:
        raise EvalInputError(f"--protocol {protocol.name} fixes the methods ({', '.join(protocol.methods)}) and "
                             f"the metrics ({', '.join(protocol.metrics)}): leave out --methods and --metrics")
    return Plan(get_methods(list(protocol.methods)), [METRICS[n] for n in protocol.metrics],
                protocol.sanity and not args.no_sanity, protocol.name)


def check_options(args) -> Plan:
    """Every option checked before any work: what to run."""
    from runtime.backend import BACKENDS

    problems = [*(["--limit must be >= 1"] if args.limit < 1 else []),
                *(["--batch-size must be >= 1"] if args.batch_size < 1 else [])]
    if args.backend is not None and args.backend not in BACKENDS:
        problems.append(unknown_name("backend", args.backend, BACKENDS))
    if problems:
        raise EvalInputError(*problems)
    plan = check_protocol(args)
    if plan is not None:
        return plan
    metrics = parse_names(args.metrics, "--metrics", METRICS)
    return Plan(get_methods(parse_names(args.methods)), metrics and [METRICS[n] for n in metrics], not args.no_sanity)


def run_eval(args) -> int:
    """Check every option, evaluate (under torchrun each rank its slice), and on rank 0 write the
    report and print its summary; every rank closes the process group before it exits."""
    from _infra.processes import close_process_group

    plan, shard = check_options(args), Shard.from_env()
    device = check_device(args.device)
    if shard.world > 1:
        import datetime

        import torch.distributed as dist

        dist.init_process_group("gloo", timeout=datetime.timedelta(days=1))  # ranks wait for the slowest
    if shard.rank > 0:  # its slice, gathered by rank 0, which writes the report
        evaluate_into(None, args, plan, device, shard)
    else:
        print_summary(*write_eval(args, plan, device, shard))
    close_process_group()
    return 0


def write_eval(args, plan: Plan, device: str, shard: Shard) -> tuple:
    """Evaluate into a fresh report folder at `args.out`, kept only when complete: (result, paths)."""
    from _infra.outputs import path_sources, result_folder

    out = Path(args.out)
    with result_folder(out, RESULTS, XAI_COMMAND, "a report folder of xai eval",
                       sources=path_sources(args.source, args.data, args.label_map)) as work:
        result, paths = evaluate_into(work, args, plan, device, shard)
    return result, {k: out / p.name for k, p in paths.items()}


def print_summary(result, paths: dict[str, Path]) -> None:
    """The report's table, the failed sanity checks, the run's speed and where the files are."""
    data = json.loads(paths["json"].read_text())
    print(f"{result.subject}: {result.n_images} images, accuracy {result.accuracy:.4f}; "
          "mean [95% bootstrap interval] per method and metric\n")
    print(markdown_table(data))
    failing = sorted({r["method"] for r in data["rows"] if r.get("passes") == "no" and not r["baseline"]})
    if failing:
        print(f"\nsanity check failed (95% upper end of |rank correlation| or SSIM with a randomised model "
              f">= {PASS_BELOW}): {', '.join(failing)}")
    run = data["header"]["run"]
    print(f"\n{result.n_images} images in {run['seconds']:.1f} s ({run['images_per_second']:.3g} images/s) on "
          f"{run['device']}, {run['processes']} process(es), batch {run['batch_size']}")
    figures = ", ".join(str(paths[k]) for k in ("grid", "curves", "cascade") if k in paths)
    print(f"\nreport: {paths['report']}  figures: {figures}")


def machine() -> dict:
    """CPU, cores and library versions for the results header (bench's probe)."""
    from bench.timing import machine_info

    return machine_info()


def load_subject(args, work: Path | None, device: str, progress: bool):
    """(subject, image size, labels, resample) of a checkpoint or an artifact."""
    from runtime.checkpoint import CheckpointError
    from runtime.manifest import MANIFEST

    try:
        if (Path(args.source) / MANIFEST).is_file():
            return artifact_subject(args.source, args.backend, work)
        return checkpoint_subject(args.source, device, args.batch_size, progress)
    except CheckpointError as e:
        raise EvalInputError(str(e)) from e


def evaluate_shard(subject, images, targets, boxes, plan: Plan, shard: Shard, batch: int):
    """Evaluate this process's slice; on rank 0 the whole set's result (slices gathered), else None."""
    from .evaluate import merge_results

    part = shard.part(len(images), batch) if shard.world > 1 else slice(None)
    result = evaluate(subject, images[part], targets[part], None if boxes is None else boxes[part], plan.methods,
                      sanity_check=plan.sanity, metrics=plan.metrics, progress=shard.rank == 0)
    if shard.world == 1:
        return result
    import torch.distributed as dist

    parts = [None] * shard.world if shard.rank == 0 else None
    dist.gather_object(result, parts, dst=0)
    if shard.rank > 0:
        return None
    return merge_results(parts)


def evaluate_into(work: Path | None, args, plan: Plan, device: str = "cpu", shard: Shard = Shard()):
    """Load the model and the images, evaluate (this process's slice under torchrun), and on rank 0
    write the report into `work`: (result, paths); None on the other ranks."""
    subject, size, labels, resample = load_subject(args, work, device, progress=shard.rank == 0)
    images, targets, boxes = load_images(args.data, size, labels, args.limit, args.seed, args.label_map, resample)
    start = time.perf_counter()
    result = evaluate_shard(subject, images, np.asarray(targets), boxes, plan, shard, args.batch_size)
    seconds = time.perf_counter() - start
    if result is None:
        return None
    run = {"protocol": plan.protocol, "device": device, "batch_size": args.batch_size, "processes": shard.world,
           "seconds": round(seconds, 3), "images_per_second": round(result.n_images / seconds, 4)}
    return result, write_report(result, work, images, command="python -m xai " + shlex.join(sys.argv[1:]),
                                machine=machine(), run=run)


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    from _infra.cli import run_cli

    args = build_parser(prog).parse_args(argv)
    return run_cli(lambda: run_eval(args), args.verbose, extra="train")


if __name__ == "__main__":
    sys.exit(main())
