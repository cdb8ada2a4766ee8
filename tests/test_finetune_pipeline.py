"""The GPU-speed options of fine-tuning: precision, the batch input pipeline, loader settings."""
from __future__ import annotations

import json
from dataclasses import astuple

import numpy as np
import pytest
import torch
from PIL import Image

from finetune import FinetuneConfig, finetune
from finetune._compat import installed_training_arguments
from finetune.data import ImageSet
from finetune.errors import FinetuneError
from finetune.pipeline import (PIXEL_MISMATCH_FRACTION, PIXEL_TOLERANCE, BatchTransform, SourceImages,
                               choose_pipeline, decode_all, loader_settings, stack_batch)
from finetune.precision import PRECISIONS, Device, precision_arguments, resolve_precision
from finetune.train import Normalize, TorchImages

FAST = dict(model="demo", data="digits", batch_size=16, lr=2e-3, progress=False, logging_steps=5,
            limit_train=160, limit_test=40, max_steps=10, precision="fp32")
MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
BILINEAR, BICUBIC = int(Image.Resampling.BILINEAR), int(Image.Resampling.BICUBIC)
CUDA_BF16 = Device("cuda", bf16=True, tf32=True, name="H100")
CUDA_OLD = Device("cuda", bf16=False, tf32=False, name="V100")
CPU, MPS = Device("cpu", bf16=True), Device("mps", bf16=True)


def noise_images(n: int, side: int, seed: int = 0) -> ImageSet:
    """`n` random RGB images of `side` px (noise: the hardest case for matching resizes)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (n, side, side, 3), dtype=np.uint8)
    return ImageSet(lambda i: (Image.fromarray(pixels[i]), i % 3), n, [i % 3 for i in range(n)])


def loader_batch(images, size, resample, flip, padding, seed):
    torch.manual_seed(seed)
    data = TorchImages(images, size, resample, flip, padding)
    return Normalize(MEAN, STD)([data[i] for i in range(len(images))])


def device_batch(images, source, size, resample, flip, padding, seed):
    data = SourceImages(decode_all(images, source, resample), images.targets, flip, padding)
    torch.manual_seed(seed)
    raw = stack_batch(data.__getitems__(list(range(len(images)))))
    assert raw["pixel_values"].dtype == torch.uint8 and raw["pixel_values"].shape[-1] == source, \
        "the loader must hand out uint8 images at source size"
    mode = {BILINEAR: "bilinear", BICUBIC: "bicubic"}[resample]
    return BatchTransform(size, mode, MEAN, STD, padding)(raw)


@pytest.mark.parametrize("source, size, resample, flip, padding", [
    (32, 224, BILINEAR, True, 28),  # CIFAR into a 224-px ViT, the seed recipe's shape
    (8, 32, BICUBIC, True, 4),
    (32, 32, BILINEAR, False, 0),  # nothing to resize: the paths must agree exactly
])
def test_batch_path_gives_the_loader_paths_pixels(source, size, resample, flip, padding):
    images = noise_images(12, source)
    ref = loader_batch(images, size, resample, flip, padding, seed=3)
    got = device_batch(images, source, size, resample, flip, padding, seed=3)
    assert torch.equal(got["labels"], ref["labels"])
    assert got["pixel_values"].shape == ref["pixel_values"].shape == (12, 3, size, size)
    levels = (got["pixel_values"] - ref["pixel_values"]).abs() * torch.tensor(STD).view(1, 3, 1, 1) * 255
    assert float(levels.max()) <= PIXEL_TOLERANCE + 1e-3
    assert float((levels > 1e-3).float().mean()) <= PIXEL_MISMATCH_FRACTION
    if resample == BILINEAR:
        assert float(levels.max()) < 1e-3, "bilinear resizes (CIFAR's case) must match PIL exactly"


@pytest.mark.parametrize("name", list(PRECISIONS))
def test_every_precision_resolves_or_refuses_clearly_on_every_device(name):
    for device in (CUDA_BF16, CUDA_OLD, CPU, MPS):
        try:
            resolved = resolve_precision(name, device)
        except FinetuneError as e:
            assert f"--precision {name} needs" in str(e) and "--precision auto" in str(e)
            continue
        assert resolved in PRECISIONS and resolved != "auto"
        args = precision_arguments(resolved, device)
        assert args["bf16"] == (resolved == "bf16") and args["fp16"] == (resolved == "fp16")


def test_auto_precision_per_device_and_its_trainer_switches():
    assert resolve_precision("auto", CUDA_BF16) == "bf16"
    assert resolve_precision("auto", CUDA_OLD) == "fp16"
    assert resolve_precision("auto", CPU) == resolve_precision("auto", MPS) == "fp32"
    assert precision_arguments("bf16", CUDA_BF16) == {"bf16": True, "fp16": False, "tf32": True}
    assert precision_arguments("fp32", CUDA_BF16)["tf32"] is False, "fp32 must switch TF32 off"
    assert "tf32" not in precision_arguments("fp16", CUDA_OLD), "no TF32 switch before Ampere"
    assert precision_arguments("bf16", CPU)["use_cpu"] is True
    with pytest.raises(FinetuneError, match="tf32 needs"):
        resolve_precision("tf32", CPU)


def test_loader_settings_are_chosen_on_cuda_and_left_alone_elsewhere():
    def knobs(*args, **kw):  # (workers, pinned, persistent, prefetch)
        return astuple(loader_settings(*args, **kw))

    assert knobs("cuda", cores=16) == (8, True, True, 4)
    assert knobs("cuda", cores=16, local_processes=4)[0] == 3
    assert knobs("cuda", cores=2)[0] == 1
    assert knobs("cuda", num_workers=0, cores=16) == (0, True, False, None)
    assert knobs("cuda", num_workers=6, prefetch_factor=2, cores=16) == (6, True, True, 2)
    assert knobs("cpu") == (0, False, False, None), "the CPU path keeps its settings"
    assert knobs("cpu", num_workers=2) == (2, False, False, None)


def test_auto_pipeline_uses_the_batch_path_only_where_it_pays():
    assert choose_pipeline("auto", "cuda", 32, 224, BILINEAR, 60_000) == "batch"
    assert choose_pipeline("auto", "mps", 32, 224, BILINEAR, 60_000) == "batch"
    assert choose_pipeline("auto", "cpu", 32, 224, BILINEAR, 60_000) == "loader"
    assert choose_pipeline("auto", "cuda", 32, 32, BILINEAR, 60_000) == "loader"
    assert choose_pipeline("auto", "cuda", None, 224, BILINEAR, 60_000) == "loader", "mixed sizes"
    assert choose_pipeline("batch", "cuda", 32, 224, int(Image.Resampling.NEAREST), 60_000) == "loader"
    assert choose_pipeline("batch", "cpu", 8, 32, BILINEAR, 100) == "batch"


def test_batch_path_trains_the_same_model_and_records_its_setup(tmp_path):
    """Same seed, same draws, same pixels: the two pipelines train the same weights (8 -> 32 px)."""
    from safetensors.torch import load_file

    kw = dict(FAST, flip=True, crop_padding=3)
    a = finetune(FinetuneConfig(out=str(tmp_path / "loader"), input_pipeline="loader", **kw))
    b = finetune(FinetuneConfig(out=str(tmp_path / "batch"), input_pipeline="batch", **kw))
    wa, wb = load_file(str(a.out / "model.safetensors")), load_file(str(b.out / "model.safetensors"))
    assert max(float((wa[k] - wb[k]).abs().max()) for k in wa) < 1e-5
    assert a.metrics["accuracy"] == b.metrics["accuracy"]
    setup = json.loads((b.out / "run.json").read_text())["setup"]
    assert setup["input_pipeline"] == "batch" and setup["source_size"] == 8 and setup["model_size"] == 32
    assert setup["precision"] == "fp32" and setup["dataloader"]["num_workers"] >= 0
    assert set(setup["seconds"]) == {"load_and_check_data", "prepare_inputs", "train", "evaluate"}
    assert all(v >= 0 for v in setup["seconds"].values())


def test_the_trainer_does_not_count_labels_on_the_host_each_step(tiny_vit, tmp_path):
    """transformers counts a batch's labels on the host and copies the count to the device per step
    for models that take loss keywords (ViT); that copy waits for the GPU. Ours skips it."""
    from transformers import AutoModelForImageClassification, TrainingArguments

    from finetune._safe_trainer import SafeTrainer

    model = AutoModelForImageClassification.from_pretrained(tiny_vit)
    trainer = SafeTrainer(model=model, args=TrainingArguments(str(tmp_path), report_to=[], use_cpu=True))
    batch = {"pixel_values": torch.zeros(4, 3, 32, 32), "labels": torch.tensor([0, 1, 2, 0])}
    _, count = trainer.get_batch_samples(iter([batch]), 1, torch.device("cpu"))
    assert count is None
    loss = trainer.compute_loss(model, batch)
    expected = torch.nn.functional.cross_entropy(model(pixel_values=batch["pixel_values"]).logits, batch["labels"])
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)


def test_bf16_training_keeps_an_fp32_checkpoint_and_leaves_later_runs_fp32(tmp_path):
    from safetensors.torch import load_file

    def weights(name, precision):
        result = finetune(FinetuneConfig(out=str(tmp_path / name), **{**FAST, "precision": precision}))
        assert json.loads((result.out / "run.json").read_text())["setup"]["precision"] == precision
        return load_file(str(result.out / "model.safetensors"))

    before = weights("fp32-before", "fp32")
    bf16 = weights("bf16", "bf16")
    after = weights("fp32-after", "fp32")
    assert {v.dtype for v in bf16.values()} == {torch.float32}
    assert max(float((bf16[k] - before[k]).abs().max()) for k in bf16) > 1e-4, "bf16 must really train in bf16"
    assert all(torch.equal(before[k], after[k]) for k in before), "a bf16 run must not leak into the next one"


@pytest.mark.skipif(torch.cuda.is_available(), reason="tf32 is a precision a CUDA GPU has")
def test_a_precision_the_device_lacks_is_one_line_and_exit_2(tmp_path, capsys):
    from finetune.__main__ import main

    assert main(["--model", "demo", "--data", "digits", "--out", str(tmp_path / "o"), "--precision", "tf32"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --precision tf32 needs a CUDA GPU")
    assert not (tmp_path / "o").exists(), "refused before anything was loaded or written"


def test_trainer_keywords_map_onto_transformers_5():
    """transformers 5 (the GPU images' version) has no `save_safetensors` and takes the warm-up
    ratio as a float `warmup_steps`; 4.57 keeps both names."""
    ours = {"warmup_ratio": 0.1, "save_safetensors": True, "bf16": True}
    v5_fields = {"warmup_steps", "bf16"}
    assert installed_training_arguments(ours, v5_fields) == {"warmup_steps": 0.1, "bf16": True}
    assert installed_training_arguments(ours, v5_fields | {"warmup_ratio", "save_safetensors"}) == ours
