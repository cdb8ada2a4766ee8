"""A `transformers.Trainer` whose checkpoints hold no pickles.

The stock Trainer writes optimizer, scheduler and RNG state with `torch.save` and reads them
back with `torch.load` (an unpickler). Here tensors go to safetensors and everything else to
JSON, so resuming a run never unpickles anything: a checkpoint counts only when every file we
write is there and parses, and one holding pickle files is refused.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import Trainer

from .compilation import CompileChoice, CompileLog, evaluation_stance, pad_batch

OPTIMIZER_TENSORS = "optimizer.safetensors"
TRAINER_JSON = "optimizer_scheduler.json"
RNG_TENSORS = "rng_state.safetensors"
RNG_JSON = "rng_state.json"
SCALER_JSON = "scaler.json"  # fp16 loss-scaler state (Trainer's own is torch.save'd scaler.pt)
COMPLETE_MARKER = "trainer_state.json"  # written last by Trainer._save_checkpoint
JSON_FILES = (COMPLETE_MARKER, TRAINER_JSON)
TENSOR_FILES = ("model.safetensors", OPTIMIZER_TENSORS)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle")


def split_state(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Optimizer `state_dict()` -> (flat tensors, JSON-able rest)."""
    tensors, scalars = {}, {}
    for pid, entries in state["state"].items():
        for name, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{pid}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def join_state(tensors: dict[str, torch.Tensor], rest: dict) -> dict:
    """Inverse of `split_state`."""
    state: dict[int, dict] = {}
    for key, value in [*tensors.items(), *rest["scalars"].items()]:
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": rest["param_groups"]}


def _parses(path: Path) -> bool:
    """A JSON file that parses, or a safetensors file whose header parses (no tensor is read)."""
    try:
        if path.suffix == ".json":
            json.loads(path.read_text())
        else:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                f.keys()
        return True
    except Exception:  # empty, truncated or garbage: whatever the parser says, it is not usable
        return False


def pickle_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES) if folder.is_dir() else []


def is_complete_checkpoint(folder: Path) -> bool:
    """Every file we write is there and parses (rng state: one file per process, all of them)."""
    rng = sorted(folder.glob("rng_state*.json")) + sorted(folder.glob("rng_state*.safetensors"))
    needed = [folder / f for f in (*JSON_FILES, *TENSOR_FILES)] + rng
    return bool(rng) and all(p.is_file() and _parses(p) for p in needed)


def _numbered(run_dir: Path) -> list[Path]:
    found = [p for p in run_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def last_complete_checkpoint(run_dir: Path) -> Path | None:
    """Newest `checkpoint-N` folder that was written to the end and parses (an interrupted save, an
    empty or corrupt state file falls back to the checkpoint before)."""
    complete = [p for p in _numbered(run_dir) if is_complete_checkpoint(p)]
    return complete[-1] if complete else None


def incomplete_checkpoints(run_dir: Path) -> list[Path]:
    """`checkpoint-N` folders that cannot be resumed from (removed before a run writes there)."""
    return [p for p in _numbered(run_dir) if not is_complete_checkpoint(p)]


class SafeTrainer(Trainer):
    """Trainer with pickle-free optimizer, scheduler and RNG checkpoints, no host sync per step, and
    one shape per phase for a compiled model (`finetune.compilation`), whose compilations
    `compile_log` counts for the phases "train" and "eval"."""

    def __init__(self, *args, compile_choice: CompileChoice | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.compile_choice = compile_choice or CompileChoice("off", "off")
        self.compile_log = CompileLog()
        # The Trainer counts a batch's labels on the host and copies the count to the device at
        # every step when the model takes loss keywords (ViT does): a copy from pageable memory
        # that waits for the GPU's queue. A classifier's batch has no ignored labels, so the count
        # is the batch size and the plain mean loss is the same loss.
        self.model_accepts_loss_kwargs = False

    def train(self, *args, **kwargs):
        with self.compile_log.phase("train"):
            return super().train(*args, **kwargs)

    def evaluation_loop(self, *args, **kwargs):
        with self.compile_log.phase("eval"), evaluation_stance(self.compile_choice):
            return super().evaluation_loop(*args, **kwargs)

    def get_train_dataloader(self):
        """A compiled training step sees one batch size: each epoch's shuffled tail is dropped (when
        there is at least one whole batch per process). `dataloader_drop_last` is set for this loader
        only: the Trainer reads it for evaluation loaders too, which must keep every image."""
        per_step = self._train_batch_size * self.args.world_size
        whole = self.compile_choice.training and len(self.train_dataset) >= per_step
        if not whole or self.args.dataloader_drop_last:
            return super().get_train_dataloader()
        self.args.dataloader_drop_last = True
        try:
            return super().get_train_dataloader()
        finally:
            self.args.dataloader_drop_last = False

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """A compiled evaluation sees one batch size: the last batch padded, its padding cut off again."""
        if not self.compile_choice.evaluation:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        padded, n = pad_batch(inputs, self.args.per_device_eval_batch_size)
        loss, logits, labels = super().prediction_step(model, padded, prediction_loss_only, ignore_keys)
        return loss, (None if logits is None else logits[:n]), (None if labels is None else labels[:n])

    def _save(self, output_dir=None, state_dict=None):
        super()._save(output_dir, state_dict)
        Path(output_dir or self.args.output_dir, "training_args.bin").unlink(missing_ok=True)

    def _save_optimizer_and_scheduler(self, output_dir):
        if not self.args.should_save:
            return
        tensors, rest = split_state(self.optimizer.state_dict())
        save_file(tensors, os.path.join(output_dir, OPTIMIZER_TENSORS))
        rest["scheduler"] = self.lr_scheduler.state_dict()
        Path(output_dir, TRAINER_JSON).write_text(json.dumps(rest))

    def _load_optimizer_and_scheduler(self, checkpoint):
        if checkpoint is None or not Path(checkpoint, TRAINER_JSON).is_file():
            return
        rest = json.loads(Path(checkpoint, TRAINER_JSON).read_text())
        self.optimizer.load_state_dict(join_state(load_file(os.path.join(checkpoint, OPTIMIZER_TENSORS)), rest))
        self.lr_scheduler.load_state_dict(rest["scheduler"])

    def _save_scaler(self, output_dir):
        scaler = getattr(self.accelerator, "scaler", None)
        if scaler is not None and self.args.should_save:
            Path(output_dir, SCALER_JSON).write_text(json.dumps(scaler.state_dict()))

    def _load_scaler(self, checkpoint):
        scaler = getattr(self.accelerator, "scaler", None)
        if checkpoint is not None and scaler is not None and Path(checkpoint, SCALER_JSON).is_file():
            scaler.load_state_dict(json.loads(Path(checkpoint, SCALER_JSON).read_text()))

    def _rng_names(self) -> tuple[str, str]:
        suffix = f"_{self.args.process_index}" if self.args.world_size > 1 else ""
        return RNG_TENSORS.replace(".", f"{suffix}.", 1), RNG_JSON.replace(".", f"{suffix}.", 1)

    def _save_rng_state(self, output_dir):
        os.makedirs(output_dir, exist_ok=True)
        tensor_name, json_name = self._rng_names()
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        save_file({"cpu": torch.random.get_rng_state()}, os.path.join(output_dir, tensor_name))
        Path(output_dir, json_name).write_text(json.dumps({
            "python": random.getstate(),
            "numpy": [kind, keys.tolist(), pos, has_gauss, gauss]}))

    def _load_rng_state(self, checkpoint):
        if checkpoint is None:
            return
        tensor_name, json_name = self._rng_names()
        if not Path(checkpoint, json_name).is_file():
            return
        saved = json.loads(Path(checkpoint, json_name).read_text())
        version, internal, gauss = saved["python"]
        random.setstate((version, tuple(internal), gauss))
        kind, keys, pos, has_gauss, cached = saved["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        torch.random.set_rng_state(load_file(os.path.join(checkpoint, tensor_name))["cpu"])
