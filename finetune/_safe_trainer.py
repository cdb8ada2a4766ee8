"""A `transformers.Trainer` whose checkpoints hold no pickles.

The stock Trainer writes optimizer, scheduler and RNG state with `torch.save` and reads them
back with `torch.load` (an unpickler). Here tensors go to safetensors and everything else to
JSON, so resuming a run never unpickles anything.
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

OPTIMIZER_TENSORS = "optimizer.safetensors"
TRAINER_JSON = "optimizer_scheduler.json"
RNG_TENSORS = "rng_state.safetensors"
RNG_JSON = "rng_state.json"
COMPLETE_MARKER = "trainer_state.json"  # written last by Trainer._save_checkpoint


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


def is_complete_checkpoint(folder: Path) -> bool:
    return all((folder / f).is_file() for f in (COMPLETE_MARKER, OPTIMIZER_TENSORS, TRAINER_JSON))


def last_complete_checkpoint(run_dir: Path) -> Path | None:
    """Newest `checkpoint-N` folder that was written to the end (an interrupted save is skipped)."""
    found = [p for p in run_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    found = sorted((p for p in found if is_complete_checkpoint(p)), key=lambda p: int(p.name.split("-")[-1]))
    return found[-1] if found else None


class SafeTrainer(Trainer):
    """Trainer with pickle-free optimizer, scheduler and RNG checkpoints."""

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
