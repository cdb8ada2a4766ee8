"""Which rows should explain a distilled DeiT? Its logit is the mean of a head on the CLS token and
a head on the distillation token; rollout-style maps read one token's row of the layer product.
This trains a small `DeiTForImageClassificationWithTeacher` on scikit-learn's digits (cross-entropy
on the averaged logit, as it is served: no teacher here, so both heads learn the labels) and
scores each method's map read from the CLS row alone against the mean of the CLS and
distillation rows, with the same metrics `xai eval` reports."""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

NAME = "distilled-readout"
SUMMARY = "distilled DeiT: maps read from the CLS row vs the mean of the CLS and distillation rows (faithfulness)"
SMOKE = ["--epochs", "1", "--images", "8"]


def add_arguments(parser) -> None:
    from _infra.cli import positive_number

    parser.add_argument("--epochs", type=positive_number, default=30)
    parser.add_argument("--images", type=int, default=None, help="score the first N test digits (default: all)")


MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
COMPARED = ("raw-attention", "rollout", "grad-rollout", "transformer-attribution")
METRICS = ("deletion", "insertion", "perturbation-pos", "perturbation-neg")
READOUTS = {"cls": "CLS row", "both": "both rows"}  # row key suffix -> heading


def columns() -> list[dict]:
    from . import column

    return [column("method"), *(column(f"{m}_{r}", f"{m}: {title}", digits=3) for m in METRICS
                                for r, title in READOUTS.items())]


def rows_of(cls: dict, both: dict) -> list[dict]:
    """Per method, each metric read from the CLS row and from both rows."""
    return [{"method": name, **{f"{m}_{r}": scores[name][m] for m in METRICS for r, scores in
                                (("cls", cls), ("both", both))}} for name in COMPARED]


def digits(split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    from finetune.data import load_data
    from runtime.images import resize_batch

    data = getattr(load_data("digits"), split).subset(limit)
    images = resize_batch([data[i][0] for i in range(len(data))], (32, 32), "bilinear")
    return images, data.targets


def train(epochs: float, seed: int = 0):
    """A 2-layer, 64-wide distilled DeiT (patch 4 on 32 px: 8 x 8 patches) trained on the averaged logit."""
    import torch
    from transformers import DeiTConfig, DeiTForImageClassificationWithTeacher

    from xai.hooks import pixel_values

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
    import torch

    from xai.hooks import capture, pixel_values
    from xai.methods import METHODS
    from xai.metrics import deletion_insertion as di, perturbation

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


def run(args) -> dict:
    import torch

    from xai.hooks import pixel_values
    from xai.rollout import CLS, CLS_AND_DISTILLATION

    start = time.perf_counter()
    model = train(args.epochs)
    images, targets = digits("test", args.images)
    with torch.no_grad():
        accuracy = float((model(pixel_values=pixel_values(images, MEAN, STD)).logits.argmax(-1).numpy() == targets).mean())
    cls, both = scores(model, images, targets, CLS), scores(model, images, targets, CLS_AND_DISTILLATION)
    from . import shaped

    header = {"accuracy": accuracy, "n_images": len(images), "epochs": args.epochs,
              "wall_s": round(time.perf_counter() - start, 1),
              "about": f"{len(images)} test digits, model accuracy {accuracy:.4f}"}
    return shaped(header, rows_of(cls, both), columns(), name="distilled_readout")
