"""The fine-tuning configuration: one frozen dataclass, one CLI flag per field."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from .data import DEFAULT_DATA
from .init import INITS
from .precision import PRECISIONS
from .presets import PRESETS


# The input pipelines (`finetune.pipeline` implements them), a registry light enough for `--help`.
PIPELINES = {
    "auto": "'batch' on a CUDA or mps device when the source images are smaller than the model's input, "
            "else 'loader'",
    "loader": "resize, augment and normalise each image with PIL in the data loader (CPU)",
    "batch": "decode once at source size; resize, augment and normalise whole batches on the training device",
}

# torch.compile choices (`finetune.compilation` applies them and says what `auto` picks and why).
COMPILE = {
    "auto": "what measured fastest end to end on this kind of device (today: off everywhere)",
    "off": "eager PyTorch",
    "train": "compile the training step once (each epoch cut to whole batches); evaluation stays eager",
    "all": "compile training and evaluation once each (the last evaluation batch padded, the padding discarded)",
}


def _f(default, help: str, **kw):
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class FinetuneConfig:
    """The seed recipe by default: 3 epochs, AdamW, lr 5e-5 with 10% warm-up, random flips."""

    model: str = _f(None, "hub id, local checkpoint folder, or preset name", required=True)
    out: str = _f(None, "output folder for the model, metrics and pictures", required=True)
    init: str | None = _f(None, "initialisation of a preset model (default: the preset's own)", choices=tuple(INITS))
    data: str = _f(DEFAULT_DATA, "hub dataset id, parquet folder, image-folder tree, 'digits' or 'digits-clutter'")
    epochs: float = _f(3.0, "training epochs")
    max_steps: int = _f(-1, "stop after this many optimizer steps (overrides --epochs when > 0)")
    batch_size: int = _f(32, "training batch size per process")
    eval_batch_size: int = _f(128, "evaluation batch size per process")
    lr: float = _f(5e-5, "peak AdamW learning rate")
    weight_decay: float = _f(0.0, "AdamW weight decay")
    warmup_ratio: float = _f(0.1, "fraction of steps spent warming up the learning rate")
    scheduler: str = _f("linear", "learning-rate schedule after warm-up", choices=("linear", "cosine", "constant_with_warmup"))
    label_smoothing: float = _f(0.0, "label smoothing factor")
    flip: bool = _f(True, "random horizontal flips while training")
    crop_padding: int = _f(0, "random crops after zero-padding by N pixels (CIFAR's standard augmentation; 0: off)")
    limit_train: int | None = _f(None, "use only the first N training images")
    limit_test: int | None = _f(None, "use only the first N test images")
    seed: int = _f(0, "seed for initialisation, shuffling and augmentation")
    num_workers: int | None = _f(None, "data-loading worker processes (default: chosen from the machine on CUDA, "
                                       "0 elsewhere)")
    prefetch_factor: int | None = _f(None, "batches each loader worker keeps ready (default: 4 on CUDA)")
    precision: str = _f("auto", "training precision: " + "; ".join(f"{k}: {p.summary}"
                                                                    for k, p in PRECISIONS.items()),
                        choices=tuple(PRECISIONS))
    input_pipeline: str = _f("auto", "where images are resized and augmented: "
                             + "; ".join(f"{k}: {v}" for k, v in PIPELINES.items()), choices=tuple(PIPELINES))
    compile: str = _f("auto", "torch.compile the model: " + "; ".join(f"{k}: {v}" for k, v in COMPILE.items())
                      + " (docs/finetune-gpu.md)", choices=tuple(COMPILE))
    save_steps: int = _f(0, "checkpoint every N steps (0: at the end of every epoch)")
    logging_steps: int = _f(50, "log the training loss every N steps")
    resume: bool = _f(False, "continue from the last complete checkpoint in OUT/checkpoints (with --force: "
                             "of the interrupted run that was to replace OUT)")
    overwrite: bool = _f(False, "replace a finished or unfinished run in OUT (the old run stays until the new one "
                                "has finished)")
    progress: bool = _f(True, "show progress bars")

    def problems(self) -> list[str]:
        """Every invalid value at once (empty when the configuration is usable)."""
        out = [f"--{f.name.replace('_', '-')} must be a finite number (got {getattr(self, f.name)})"
               for f in fields(self) if f.type in (float, "float") and not math.isfinite(getattr(self, f.name))]
        if out:
            return out
        if self.epochs <= 0 and self.max_steps <= 0:
            out.append("--epochs must be > 0 (or give --max-steps)")
        for name in ("batch_size", "eval_batch_size", "logging_steps"):
            if getattr(self, name) < 1:
                out.append(f"--{name.replace('_', '-')} must be >= 1")
        for name in ("limit_train", "limit_test"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                out.append(f"--{name.replace('_', '-')} must be >= 1")
        if self.crop_padding < 0:
            out.append("--crop-padding must be >= 0")
        if self.lr <= 0:
            out.append("--lr must be > 0")
        if self.weight_decay < 0:
            out.append("--weight-decay must be >= 0")
        if not 0 <= self.label_smoothing < 1:
            out.append("--label-smoothing must be in [0, 1)")
        if self.save_steps < 0:
            out.append("--save-steps must be >= 0")
        if not 0 <= self.warmup_ratio < 1:
            out.append("--warmup-ratio must be in [0, 1)")
        if self.init is not None and self.init not in INITS:
            out.append(f"--init must be one of {', '.join(INITS)}")
        elif self.init is not None and self.model not in PRESETS:
            out.append(f"--init applies to presets ({', '.join(PRESETS)}); '{self.model}' keeps its own weights")
        if self.num_workers is not None and self.num_workers < 0:
            out.append("--num-workers must be >= 0")
        if self.prefetch_factor is not None and self.prefetch_factor < 1:
            out.append("--prefetch-factor must be >= 1")
        for name, known in (("precision", PRECISIONS), ("input_pipeline", PIPELINES), ("compile", COMPILE)):
            if getattr(self, name) not in known:
                out.append(f"--{name.replace('_', '-')} must be one of {', '.join(known)}")
        if not 0 <= self.seed < 2 ** 32:
            out.append("--seed must be in 0..2**32-1")
        return out


CONFIG_FIELDS = {f.name: f for f in fields(FinetuneConfig)}
