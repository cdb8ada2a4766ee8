"""End-to-end fine-tuning: outputs, learning, safe resume, refusals, the CLI and torchrun."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import free_port, write_image_folder

from finetune import FinetuneConfig, finetune
from finetune._safe_trainer import last_complete_checkpoint
from finetune.errors import FinetuneError

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(batch_size=16, lr=2e-3, flip=False, progress=False, logging_steps=5, limit_train=400, limit_test=80)
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".ckpt"}


def run(tmp_path, name="run", **kw):
    return finetune(FinetuneConfig(model="demo", data="digits", out=str(tmp_path / name), **{**FAST, **kw}))


def evaluate_saved(folder: Path, data: str = "digits", limit: int = 80) -> float:
    """Accuracy of the saved checkpoint, recomputed from scratch through its processor."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    from finetune.data import load_data

    model = AutoModelForImageClassification.from_pretrained(folder).eval()
    processor = AutoImageProcessor.from_pretrained(folder)
    test = load_data(data).test.subset(limit)
    images = [test[i][0] for i in range(len(test))]
    with torch.no_grad():
        logits = model(**processor(images, return_tensors="pt")).logits
    return float((logits.argmax(-1).numpy() == test.targets).mean())


def test_run_writes_everything_and_metrics_match_the_saved_model(tmp_path):
    result = run(tmp_path, epochs=6)
    out = result.out
    for name in ("model.safetensors", "config.json", "preprocessor_config.json", "metrics.json", "run.json",
                 "confusion_matrix.png", "training_curves.png"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "loss", "per_class_accuracy", "train_wall_s", "train_images_per_s"} <= set(m)
    assert m["accuracy"] > 0.3, "6 epochs on 400 digits must beat chance (0.1) by far"
    assert np.array(m["confusion_matrix"]).sum() == 80
    assert evaluate_saved(out) == pytest.approx(m["accuracy"], abs=1 / 80)
    run_info = json.loads((out / "run.json").read_text())
    assert "torch" in run_info["versions"] and run_info["config"]["model"] == "demo"
    assert not [p for p in out.rglob("*") if p.suffix in PICKLE_SUFFIXES], "checkpoints must hold no pickles"


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    from safetensors.torch import load_file

    full = run(tmp_path, "full", max_steps=20, save_steps=10)
    part = run(tmp_path, "part", max_steps=20, save_steps=10)
    ckpt = part.out / "checkpoints"
    (part.out / "metrics.json").unlink()  # as if killed after step 20's checkpoint was started:
    (ckpt / "checkpoint-20" / "trainer_state.json").unlink()  # checkpoint-20 is incomplete
    assert last_complete_checkpoint(ckpt).name == "checkpoint-10"
    resumed = run(tmp_path, "part", max_steps=20, save_steps=10, resume=True)
    assert resumed.resumed_from.endswith("checkpoint-10")
    a, b = load_file(str(full.out / "model.safetensors")), load_file(str(resumed.out / "model.safetensors"))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5


def test_existing_runs_are_not_clobbered(tmp_path):
    run(tmp_path, max_steps=2)
    with pytest.raises(FinetuneError, match="finished run"):
        run(tmp_path, max_steps=2)
    run(tmp_path, max_steps=2, overwrite=True)


def test_invalid_config_lists_every_problem(tmp_path):
    cfg = FinetuneConfig(model="demo", out=str(tmp_path), data="digits", batch_size=0, lr=-1, warmup_ratio=2)
    with pytest.raises(FinetuneError) as e:
        finetune(cfg)
    assert len(e.value.problems) == 3


def test_init_is_for_presets_only(tmp_path, tiny_vit):
    with pytest.raises(FinetuneError, match="applies to presets"):
        finetune(FinetuneConfig(model=str(tiny_vit), out=str(tmp_path), data="digits", init="sincos"))
    with pytest.raises(FinetuneError, match="must be one of"):
        finetune(FinetuneConfig(model="demo", out=str(tmp_path), data="digits", init="xavier"))


def test_deit_checkpoint_on_an_image_folder(tmp_path, tiny_deit):
    data = write_image_folder(tmp_path / "imgs", per_class=8)
    cfg = FinetuneConfig(model=str(tiny_deit), data=str(data), out=str(tmp_path / "deit"), **{**FAST, "epochs": 2})
    result = finetune(cfg)
    saved = json.loads((result.out / "config.json").read_text())
    assert saved["model_type"] == "deit" and saved["id2label"]["0"] == "class_0"


@pytest.mark.parametrize("args, message", [
    (["--model", "demo", "--data", "/nonexistent/data"], "does not exist"),
    (["--model", "./no-such-model", "--data", "digits"], "does not exist"),
    (["--model", "google/vit-base-patch16-224", "--data", "digits"], "Hugging Face hub"),
])
def test_cli_errors_are_one_line_without_traceback(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "finetune", *args, "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and message in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")


def test_torchrun_two_processes(tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "finetune", "--model", "demo", "--data", "digits", "--out", str(out), "--max-steps", "4",
           "--batch-size", "8", "--limit-test", "41", "--logging-steps", "1", "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_info = json.loads((out / "run.json").read_text())
    steps = [h for h in run_info["log_history"] if "train_runtime" in h]
    assert steps and steps[-1]["step"] == 4
    # 2 processes x batch 8 x 4 steps: each step saw 16 images
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_test"] == 41 and metrics["processes"] == 2
    # every test image predicted once: the processes' predictions were gathered (an odd count
    # splits unevenly, so a missing gather or an undropped duplicate shows)
    assert sum(map(sum, metrics["confusion_matrix"])) == 41
    # one model: the processes averaged their gradients (a wrong loss scale shows as ~2x ln 10)
    losses = [h["loss"] for h in run_info["log_history"] if "loss" in h]
    assert losses and all(loss < 1.5 * math.log(10) for loss in losses)
