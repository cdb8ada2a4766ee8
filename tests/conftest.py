"""Shared fixtures: tiny ViT/DeiT checkpoints built from configs, and generated data sets."""
from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# runtime.seal remembers verified files here, not in the user's cache (subprocesses inherit it)
os.environ.setdefault("EXPLAINABLE_VIT_CACHE", tempfile.mkdtemp(prefix="explainable-vit-verified-"))
torch.set_num_threads(2)

LABELS = [f"class_{i}" for i in range(4)]


def free_port() -> int:
    """A loopback port free now, for a torchrun launch's static rendezvous on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_config(kind: str, labels=LABELS, image_size: int = 32, patch_size: int = 8, **kw):
    """A 2-layer, 32-wide ViT or DeiT config: fast enough for every test."""
    from transformers import DeiTConfig, ViTConfig

    cls = {"vit": ViTConfig, "deit": DeiTConfig}[kind]
    args = dict(image_size=image_size, patch_size=patch_size, hidden_size=32, num_hidden_layers=2,
                num_attention_heads=2, intermediate_size=64, num_labels=len(labels),
                id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    return cls(**{**args, **kw})


def save_tiny_checkpoint(folder: Path, kind: str = "vit", distilled: bool = False, seed: int = 0, **kw) -> Path:
    """`save_pretrained` a randomly initialised tiny classifier plus its image processor."""
    from transformers import (DeiTForImageClassification, DeiTForImageClassificationWithTeacher,
                              ViTForImageClassification, ViTImageProcessor)

    torch.manual_seed(seed)
    config = tiny_config(kind, **kw)
    cls = {"vit": ViTForImageClassification,
           "deit": DeiTForImageClassificationWithTeacher if distilled else DeiTForImageClassification}[kind]
    cls(config).eval().save_pretrained(folder, safe_serialization=True)
    ViTImageProcessor(size={"height": config.image_size, "width": config.image_size},
                      image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.25, 0.3]).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_vit(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny-vit"), "vit")


@pytest.fixture(scope="session")
def tiny_deit(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny-deit"), "deit")


def write_image_folder(root: Path, labels=LABELS, per_class: int = 6, size=(20, 14), seed: int = 0) -> Path:
    """`root/label/*.png`: each class a distinct colour plus noise, so a model can learn it."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for k, name in enumerate(labels):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            base = np.array([60 * k % 256, 255 - 50 * k, 40 + 30 * k]) if k else np.array([255, 0, 0])
            pixels = np.clip(base + rng.normal(0, 20, size=(*size[::-1], 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def write_parquet_folder(root: Path, n_train: int = 40, n_test: int = 12, columns=("img", "label"),
                         test_labels=None) -> Path:
    """Shards `train-00000-of-00001.parquet` / `test-...` laid out like the CIFAR-10 copy."""
    import io

    from datasets import ClassLabel, Dataset, Features, Image as ImageFeature
    from PIL import Image

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for split, n, names in (("train", n_train, LABELS), ("test", n_test, test_labels or LABELS)):
        images, labels = [], []
        for i in range(n):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, format="JPEG")
            images.append({"bytes": buf.getvalue(), "path": None})
            labels.append(i % len(names))
        features = Features({columns[0]: ImageFeature(), columns[1]: ClassLabel(names=list(names))})
        Dataset.from_dict({columns[0]: images, columns[1]: labels}, features=features).to_parquet(
            str(root / f"{split}-00000-of-00001.parquet"))
    return root
