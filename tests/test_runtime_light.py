"""Serving an ONNX or Core ML artifact needs neither torch, transformers nor datasets: proven in a
subprocess where importing them fails."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from export import ExportConfig, export_model

ROOT = Path(__file__).resolve().parents[1]
TRAINING_STACK = ("torch", "transformers", "datasets", "accelerate", "sklearn")

BLOCKER = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {TRAINING_STACK!r}:
            raise ImportError(f"{{name}} is not installed in this test")
sys.meta_path.insert(0, Block())
"""


@pytest.mark.parametrize("fmt, explain", [("onnx", "rollout"), ("onnx", "attentions"), ("onnx", "gradrollout"),
                                          ("coreml", "rollout")])
def test_runtime_serves_artifacts_without_the_training_stack(tiny_vit, tmp_path, fmt, explain):
    from PIL import Image

    folder = tmp_path / "artifact"
    export_model(tiny_vit, folder, ExportConfig(format=fmt, explain=explain, parity_images=1))
    image = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(image)
    script = BLOCKER + f"""
import runtime
p = runtime.load({str(folder)!r}).predict([{str(image)!r}])
assert p.probs.shape == (1, 4) and p.heatmaps_full[0].shape == (40, 30), p
loaded = sorted(m for m in {TRAINING_STACK!r} if m in sys.modules)
assert not loaded, loaded
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_the_blocker_blocks():
    done = subprocess.run([sys.executable, "-c", BLOCKER + "import torch"], capture_output=True, text=True)
    assert done.returncode != 0 and "not installed in this test" in done.stderr


def test_resample_names_are_pils_filters_and_an_unknown_one_is_refused():
    from PIL import Image

    from runtime.images import RESAMPLE, resize_batch
    from _infra.errors import ToolkitError

    assert RESAMPLE == {"nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS,
                        "bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
                        "box": Image.Resampling.BOX, "hamming": Image.Resampling.HAMMING}
    with pytest.raises(ToolkitError, match="unknown resample filter 'bicubik'"):
        resize_batch([Image.new("RGB", (5, 3))], (4, 4), "bicubik")  # never a silent bilinear
