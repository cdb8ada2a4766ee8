"""Fine-tuning throughput: how close `finetune`'s own training path comes to the device's ceiling.

For each `PRESET:BATCH` case, in one process and at one precision:
- ceiling: a bare training step (forward, backward, AdamW step) of the same model on a synthetic
  batch that already sits on the device, timed after warm-up;
- training path: `finetune` itself on real images (data loading, the input pipeline, the
  Trainer's step), timed by a callback between the end of step `warmup` and the last step.
Both are images/s; `ratio` = training path / ceiling. The training split is cut to exactly one
epoch of `warmup + steps` steps, so no evaluation or checkpoint falls inside the timed window.
On CUDA the timed steps also count the host's waits for the GPU (torch's sync debug mode): each
one lets the GPU run dry while Python queues the next kernels; the ceiling has none.
With --compile, each row also says what the path's run compiled (run.json's counts, per phase).
"""
from __future__ import annotations

import sys
import tempfile
import time
import warnings
from collections import Counter
from contextlib import nullcontext

NAME = "finetune-throughput"
SUMMARY = ("images/s of a bare training step on a synthetic on-device batch (the ceiling) and of "
           "finetune's own path on real images, same model, precision and batch; and their ratio")
DEFAULT_CASES = ("deit-tiny:256", "vit-base:64")  # the seed recipe's two architectures, GPU batch sizes


def add_arguments(parser) -> None:
    from finetune.config import PIPELINES  # the light registry: `bench scenario --help` loads no torch
    from finetune.precision import PRECISIONS

    parser.add_argument("--data", required=True, help="a finetune data source with real images (CIFAR-10 parquet)")
    parser.add_argument("--case", action="append", metavar="PRESET:BATCH", type=parse_case,
                        help=f"preset and batch size, repeatable (default: {' '.join(DEFAULT_CASES)})")
    parser.add_argument("--precision", default="auto", choices=list(PRECISIONS))
    parser.add_argument("--input-pipeline", default="auto", choices=list(PIPELINES))
    parser.add_argument("--steps", type=int, default=40, help="timed training steps per measurement")
    parser.add_argument("--warmup-steps", type=int, default=10, help="untimed steps first")
    parser.add_argument("--num-workers", type=int, default=None, help="loader workers (default: finetune's)")
    parser.add_argument("--limit-test", type=int, default=512, help="test images evaluated after the path's run")
    parser.add_argument("--compile", action="store_true",
                        help="torch.compile both the ceiling's and the path's model (finetune's --compile train)")


def columns() -> list[dict]:
    from ..targets import of
    from . import column

    return [column("preset"), column("batch"), column("precision"), column("compile"),
            column("host_syncs_per_step", "host syncs per step", digits=2),
            column("ceiling_img_s", "ceiling", "img/s", 0), column("training_img_s", "training path", "img/s", 0),
            column("ratio", digits=3), *(column(t.verdict_key, t.label) for t in of(NAME)),
            *(column(f"{phase}_{key}", f"{phase} {key}") for phase in ("train", "eval")
              for key in ("graphs", "recompiles"))]


def parse_case(case: str) -> tuple[str, int]:
    """'deit-tiny:256' -> ('deit-tiny', 256); argparse turns the error into one line and exit 2."""
    from argparse import ArgumentTypeError

    from finetune.presets import PRESETS

    preset, _, batch = case.partition(":")
    if preset not in PRESETS or not batch.isdigit() or int(batch) < 1:
        raise ArgumentTypeError(f"'{case}': expected PRESET:BATCH with PRESET one of {', '.join(PRESETS)}")
    return preset, int(batch)


def synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def ceiling(preset: str, batch: int, labels: list[str], precision: str, device, steps: int, warmup: int,
            compile: bool = False) -> float:
    """Images/s of forward + backward + AdamW on a synthetic batch resident on `device`."""
    import torch

    from finetune.models import load_model
    from finetune.precision import precision_arguments

    switches = precision_arguments(precision, device)
    if "tf32" in switches:  # what TrainingArguments(tf32=...) sets
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = switches["tf32"]
    model = load_model(preset, labels)[0].to(device.kind).train()
    step_model = torch.compile(model) if compile else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.kind == "cuda" or None)
    size = int(model.config.image_size)
    x = torch.randn(batch, 3, size, size, device=device.kind)
    y = torch.randint(0, len(labels), (batch,), device=device.kind)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler(device.kind, enabled=precision == "fp16")

    def step():
        with torch.autocast(device.kind, dtype=dtype) if dtype else nullcontext():
            loss = step_model(pixel_values=x, labels=y).loss
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    synchronize(device.kind)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device.kind)
    rate = steps * batch / (time.perf_counter() - start)
    del model, step_model, optimizer, x, y
    if device.kind == "cuda":
        torch.cuda.empty_cache()
    return rate


class SyncCounter:
    """Synchronizing CUDA calls (torch's sync debug mode warns at each) between `start` and `stop`,
    and where in Python they came from."""

    def __init__(self, device: str):
        self.device, self.count, self.places, self._catch = device, None, {}, None

    def start(self) -> None:
        if self.device != "cuda":
            return
        import torch

        self._catch = warnings.catch_warnings(record=True)
        self._records = self._catch.__enter__()
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")

    def stop(self) -> None:
        if self._catch is None:
            return
        import torch

        torch.cuda.set_sync_debug_mode("default")
        self._catch.__exit__(None, None, None)
        syncs = [w for w in self._records if "synchroniz" in str(w.message)]
        self.count, self._catch = len(syncs), None
        self.places = Counter(f"{w.filename}:{w.lineno}" for w in syncs)


def step_clock(warmup: int, steps: int, device: str):
    """A TrainerCallback that times steps `warmup`+1 .. `warmup + steps` (synchronised at both ends)
    and counts the host syncs in between (`.syncs`, a `SyncCounter`)."""
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        def __init__(self):
            self.start = self.stop = None
            self.syncs = SyncCounter(device)

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == warmup:
                synchronize(device)
                self.start = time.perf_counter()
                self.syncs.start()
            elif state.global_step == warmup + steps:
                self.syncs.stop()  # first: the clock's own synchronize is not the path's
                synchronize(device)
                self.stop = time.perf_counter()

    return StepClock()


def training_path(preset: str, batch: int, args, device: str) -> tuple[float, dict]:
    """Images/s of `finetune` on `args.data` over the timed steps, and the run's recorded setup."""
    from finetune import FinetuneConfig, finetune

    total = args.warmup_steps + args.steps
    clock = step_clock(args.warmup_steps, args.steps, device)
    with tempfile.TemporaryDirectory() as out:
        cfg = FinetuneConfig(model=preset, data=args.data, out=out, overwrite=True, batch_size=batch,
                             eval_batch_size=max(batch, 128), max_steps=total, limit_train=batch * total,
                             limit_test=args.limit_test, logging_steps=10 * total, progress=False,
                             precision=args.precision, input_pipeline=args.input_pipeline,
                             num_workers=args.num_workers, compile="train" if args.compile else "off", lr=1e-4)
        result = finetune(cfg, callbacks=[clock])
    syncs = clock.syncs
    if syncs.places:
        print("host syncs in the timed steps: " + ", ".join(f"{p} x{n}" for p, n in syncs.places.items()),
              file=sys.stderr, flush=True)
    per_step = None if syncs.count is None else round(syncs.count / args.steps, 2)
    return args.steps * batch * result.processes / (clock.stop - clock.start), {**result.setup, "syncs": per_step}


def run(args) -> dict:
    """Bad input (data, precision for this device): one line on stderr and exit status 2."""
    from finetune.errors import FinetuneError

    try:
        return measure(args)
    except FinetuneError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from e


def measure(args) -> dict:
    from finetune.data import load_data
    from finetune.precision import device_facts, resolve_precision
    from finetune.report import compile_counts

    device = device_facts()
    precision = resolve_precision(args.precision, device)
    labels = load_data(args.data).labels
    rows = []
    for preset, batch in args.case or [parse_case(c) for c in DEFAULT_CASES]:
        top = ceiling(preset, batch, labels, precision, device, args.steps, args.warmup_steps, args.compile)
        path, setup = training_path(preset, batch, args, device.kind)
        rows.append({"preset": preset, "batch": batch, "precision": setup["precision"],
                     "input_pipeline": setup["input_pipeline"], "workers": setup["dataloader"]["num_workers"],
                     "compile": args.compile, "host_syncs_per_step": setup["syncs"],
                     "ceiling_img_s": top, "training_img_s": path, "ratio": path / top, **compile_counts(setup["compile"])})
        print(f"{preset}:{batch} {rows[-1]['precision']}: ceiling {top:.1f} img/s, training path {path:.1f} "
              f"img/s, ratio {path / top:.3f}", file=sys.stderr, flush=True)  # kept if a later case times out
    header = {"device": device.name or device.kind, "data": args.data, "steps": args.steps,
              "warmup_steps": args.warmup_steps}
    from ..targets import of
    from . import shaped

    return shaped(header, rows, columns(), of(NAME))
