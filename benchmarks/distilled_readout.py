"""Which rows should explain a distilled DeiT? Its logit is the mean of a head on the CLS token and
a head on the distillation token; rollout-style maps read one token's row of the layer product.
This trains a small `DeiTForImageClassificationWithTeacher` on scikit-learn's digits (cross-entropy
on the averaged logit, as it is served: no teacher here, so both heads learn the labels) and
scores each method's map read from the CLS row alone against the mean of the CLS and
distillation rows, with the same metrics `xai eval` reports.

    python benchmarks/distilled_readout.py [--epochs 30] [--out benchmarks/results/distilled_readout.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finetune.data import load_data  # noqa: E402
from runtime.images import resize_batch  # noqa: E402
from xai.hooks import capture, pixel_values  # noqa: E402
from xai.methods import METHODS  # noqa: E402
from xai.metrics import deletion_insertion as di, perturbation  # noqa: E402
from xai.rollout import CLS, CLS_AND_DISTILLATION  # noqa: E402

MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
COMPARED = ("raw-attention", "rollout", "grad-rollout", "transformer-attribution")


def digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    data = getattr(load_data("digits"), split)
    images = resize_batch([data[i][0] for i in range(len(data))], (32, 32), "bilinear")
    return images, data.targets


def train(epochs: float, seed: int = 0):
    """A 2-layer, 64-wide distilled DeiT (patch 4 on 32 px: 8 x 8 patches) trained on the averaged logit."""
    from transformers import DeiTConfig, DeiTForImageClassificationWithTeacher

    torch.manual_seed(seed)
    config = DeiTConfig(image_size=32, patch_size=4, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, num_labels=10, attn_implementation="eager")
    model = DeiTForImageClassificationWithTeacher(config)
    images, targets = digits("train")
    x, y = pixel_values(images, MEAN, STD), torch.as_tensor(targets)
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    model.train()
    for _ in range(int(epochs)):
        for idx in torch.randperm(len(x)).split(32):
            loss = torch.nn.functional.cross_entropy(model(pixel_values=x[idx]).logits, y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


def scores(model, images, targets, readout) -> dict[str, dict[str, float]]:
    """Per method: deletion, insertion, perturbation AUCs of its maps read from `readout`'s rows."""
    def forward(batch):
        with torch.no_grad():
            return model(pixel_values=pixel_values(batch, MEAN, STD)).logits.softmax(-1).numpy()

    cap = replace(capture(model, pixel_values(images, MEAN, STD), None, relevance=True), readout=readout)
    predicted, fill = cap.targets, di.mean_colour(MEAN)
    out = {}
    for name in COMPARED:
        maps = METHODS[name](cap, (8, 8), 2)
        out[name] = {
            "deletion": di.curve_auc(di.deletion_curve(forward, images, maps, predicted, fill)),
            "insertion": di.curve_auc(di.insertion_curve(forward, images, maps, predicted, fill)),
            "perturbation-pos": perturbation.perturbation_auc(
                perturbation.perturbation_curve(forward, images, maps, targets, positive=True)),
            "perturbation-neg": perturbation.perturbation_auc(
                perturbation.perturbation_curve(forward, images, maps, targets, positive=False))}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=float, default=30)
    parser.add_argument("--out", default="benchmarks/results/distilled_readout.json")
    args = parser.parse_args()
    start = time.perf_counter()
    model = train(args.epochs)
    images, targets = digits("test")
    with torch.no_grad():
        accuracy = float((model(pixel_values=pixel_values(images, MEAN, STD)).logits.argmax(-1).numpy() == targets).mean())
    result = {"command": "python benchmarks/distilled_readout.py " + " ".join(sys.argv[1:]), "accuracy": accuracy,
              "n_images": len(images), "cls_row": scores(model, images, targets, CLS),
              "cls_and_distillation_rows": scores(model, images, targets, CLS_AND_DISTILLATION),
              "wall_s": round(time.perf_counter() - start, 1)}
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"accuracy {accuracy:.4f}; method: CLS row -> mean of CLS and distillation rows")
    for name in COMPARED:
        a, b = result["cls_row"][name], result["cls_and_distillation_rows"][name]
        print(name, "  ".join(f"{k} {a[k]:.3f} -> {b[k]:.3f}" for k in a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
