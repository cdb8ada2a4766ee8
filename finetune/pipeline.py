"""The input pipeline, a registry: `--input-pipeline auto|loader|batch`.

`loader`: each image is resized to the model's input with PIL in the data loader, augmented and
normalised there (`train.TorchImages` + `train.Normalize`); the CPU's path.
`batch`: images are decoded once at their source size into one uint8 tensor, the loader hands
out uint8 batches at that size (CIFAR: 3 KB an image instead of 150 KB), and resizing, flips,
pad-and-crop and normalisation run on the training device, on the whole batch, inside
`Trainer._prepare_inputs` (so training and evaluation take the same path). The resize is
PIL's filter, pass by pass, rounded like PIL's uint8 output: the two paths give the same pixels
to within `PIXEL_TOLERANCE` (32 -> 224 px bilinear, CIFAR's case: identical; other sizes and
bicubic: a few pixels in a thousand one or two levels apart, from PIL's fixed-point weights).

Data-loader settings on CUDA (workers, pinned memory, persistent workers, prefetch) are chosen
from the machine unless the user sets them (`loader_settings`).
"""
from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ._safe_trainer import SafeTrainer
from .config import PIPELINES  # noqa: F401  (the registry, kept light for the CLI)
from .data import ImageSet

RESAMPLE_MODES = {Image.Resampling.BILINEAR: "bilinear", Image.Resampling.BICUBIC: "bicubic"}
PIXEL_TOLERANCE = 2  # uint8 levels between the paths' resized pixels (measured worst case: 2)
PIXEL_MISMATCH_FRACTION = 0.05  # share of pixels that may differ at all (measured worst case on noise: 0.03)
PROBE_IMAGES = 16  # images looked at to decide whether a source has one size smaller than the model's
MAX_AUTO_WORKERS = 8  # issue 17 saw 4 workers feed ~18k CIFAR img/s through a path like this (H200 host)
AUTO_PREFETCH = 4  # batches each worker keeps ready
DECODED_BYTES = 2 << 30  # the batch path keeps both decoded splits in memory: at most this much


# ---------------------------------------------------------------------------------- choosing
def source_size(images: ImageSet) -> int | None:
    """The side of the first `PROBE_IMAGES` images when they are square and all the same, else None."""
    sizes = {images[i][0].size for i in range(min(PROBE_IMAGES, len(images)))}
    if len(sizes) != 1:
        return None
    w, h = sizes.pop()
    return w if w == h else None


def choose_pipeline(name: str, device: str, source: int | None, model_size: int, resample: int,
                    n_images: int) -> str:
    """Resolve `--input-pipeline` to 'loader' or 'batch' (explicit 'batch' falls back when impossible)."""
    possible = (source is not None and source <= model_size and resample in RESAMPLE_MODES
                and n_images * 3 * source * source <= DECODED_BYTES)
    if name == "loader" or not possible:
        return "loader"
    if name == "batch":
        return "batch"
    return "batch" if device in ("cuda", "mps") and source < model_size else "loader"


@dataclass(frozen=True)
class LoaderSettings:
    """`torch.utils.data.DataLoader` knobs, as `TrainingArguments` takes them."""

    num_workers: int
    pin_memory: bool
    persistent_workers: bool
    prefetch_factor: int | None

    def training_arguments(self) -> dict:
        args = {f"dataloader_{k}": v for k, v in asdict(self).items()}
        if self.pin_memory:
            args["accelerator_config"] = {"non_blocking": True}  # pinned batches copy while the GPU computes
        return args


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def loader_settings(device: str, num_workers: int | None = None, prefetch_factor: int | None = None,
                    cores: int | None = None, local_processes: int = 1) -> LoaderSettings:
    """On CUDA: a worker per spare core of this process's share (at most MAX_AUTO_WORKERS), pinned
    memory, persistent workers and AUTO_PREFETCH; elsewhere what the user gave (default 0 workers)."""
    if device != "cuda":
        workers = num_workers or 0
        return LoaderSettings(workers, False, False, prefetch_factor if workers else None)
    share = (cores or cpu_cores()) // max(local_processes, 1)
    workers = num_workers if num_workers is not None else max(1, min(MAX_AUTO_WORKERS, share - 1))
    prefetch = (prefetch_factor or AUTO_PREFETCH) if workers else None
    return LoaderSettings(workers, True, workers > 0, prefetch)


# ---------------------------------------------------------------------------------- batch path
class _Decode(torch.utils.data.Dataset):
    def __init__(self, images: ImageSet, size: int, resample: int):
        self.images, self.size, self.resample = images, size, Image.Resampling(resample)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        image, _ = self.images[i]
        if image.size != (self.size, self.size):  # a stray size in a set that probed as one size
            image = image.resize((self.size, self.size), self.resample)
        return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)


def decode_all(images: ImageSet, size: int, resample: int, workers: int = 0) -> torch.Tensor:
    """Every image decoded once at `size` -> uint8 (N, 3, size, size)."""
    loader = torch.utils.data.DataLoader(_Decode(images, size, resample), batch_size=512, num_workers=workers,
                                         collate_fn=torch.stack)
    return torch.cat(list(loader)) if len(images) else torch.empty(0, 3, size, size, dtype=torch.uint8)


class SourceImages(torch.utils.data.Dataset):
    """Decoded uint8 images at source size -> `{"pixel_values": uint8 (3, s, s), "labels": int}`, plus
    the augmentation drawn for each image (`flip`: bool, `offset`: (2,) crop corner), applied later
    on the device by `batch_transform`. The draws use torch's RNG, as `TorchImages` does."""

    def __init__(self, pixels: torch.Tensor, labels: np.ndarray, flip: bool, crop_padding: int = 0):
        self.pixels, self.labels = pixels, torch.as_tensor(labels, dtype=torch.long)
        self.flip, self.crop_padding = flip, crop_padding

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, i: int) -> dict:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}

    def __getitems__(self, indices: list[int]) -> "StackedBatch":
        """A whole batch in one indexing (the DataLoader calls this instead of N `__getitem__`s)."""
        idx = torch.as_tensor(indices, dtype=torch.long)
        batch = StackedBatch(pixel_values=self.pixels[idx], labels=self.labels[idx])
        flips, offsets = [], []
        for _ in indices:  # per image, in TorchImages' order: a seed gives both paths the same draws
            if self.flip:
                flips.append(torch.rand(()) < 0.5)
            if self.crop_padding:
                offsets.append(torch.randint(0, 2 * self.crop_padding + 1, (2,)))
        if self.flip:
            batch["flip"] = torch.stack(flips)
        if self.crop_padding:
            batch["offset"] = torch.stack(offsets)
        return batch


class StackedBatch(dict):
    """A batch that `SourceImages.__getitems__` already stacked: uint8 (B, 3, s, s) images, (B,) labels."""


def stack_batch(batch: StackedBatch | list[dict]) -> dict:
    """Collator of the batch path: a stacked batch as is, a list of items stacked key by key."""
    if isinstance(batch, StackedBatch):
        return dict(batch)
    return {k: torch.stack([b[k] for b in batch]) for k in batch[0]}


def pad_crop(x: torch.Tensor, offset: torch.Tensor, padding: int) -> torch.Tensor:
    """Zero-pad (B, C, S, S) by `padding` and cut each image's SxS window at its `offset` (B, 2) (top, left)."""
    b, _, s, _ = x.shape
    padded = F.pad(x, (padding,) * 4).permute(0, 2, 3, 1)  # (B, S+2p, S+2p, C)
    span = torch.arange(s, device=x.device)
    rows, cols = offset[:, :1] + span, offset[:, 1:] + span  # (B, S) each
    out = padded[torch.arange(b, device=x.device)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()  # back to (B, C, S, S) in memory too, as the loader path gives


def pil_resize(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    """(B, C, h, w) float in 0..255 -> (B, C, size, size) with PIL's uint8 result (to PIXEL_TOLERANCE):
    PIL's filters (`antialias=True`), width first, each pass rounded half up and clipped as PIL does."""
    for shape in ((x.shape[-2], size), (size, size)):
        x = F.interpolate(x, size=shape, mode=mode, align_corners=False, antialias=True)
        x = x.add_(0.5).floor_().clamp_(0, 255)
    return x


def batch_transform(pixels: torch.Tensor, size: int, mode: str, mean: torch.Tensor, std: torch.Tensor,
                    flip: torch.Tensor | None = None, offset: torch.Tensor | None = None,
                    padding: int = 0) -> torch.Tensor:
    """uint8 (B, 3, s, s) -> normalised float (B, 3, size, size): resize (PIL's filter, rounded like
    PIL's uint8 output), flip where `flip` (B,), pad-and-crop at `offset` (B, 2), normalise.
    `mean`/`std`: (3,) in [0, 1]. The order is the loader path's (resize, flip, crop, normalise)."""
    x = pixels.float()
    if x.shape[-2:] != (size, size):
        x = pil_resize(x, size, mode)
    if flip is not None:
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    if offset is not None and padding:
        x = pad_crop(x, offset, padding)
    return (x - mean.view(1, 3, 1, 1) * 255) / (std.view(1, 3, 1, 1) * 255)


@dataclass(frozen=True)
class BatchTransform:
    """`batch_transform` bound to a model's input: applied to a batch dict already on the device."""

    size: int
    mode: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    padding: int = 0

    def __call__(self, inputs: dict) -> dict:
        inputs = dict(inputs)
        pixels, flip, offset = inputs.pop("pixel_values"), inputs.pop("flip", None), inputs.pop("offset", None)
        mean, std = _on_device(self.mean, pixels.device), _on_device(self.std, pixels.device)
        inputs["pixel_values"] = batch_transform(pixels, self.size, self.mode, mean, std, flip, offset,
                                                 self.padding)
        return inputs


@functools.lru_cache(maxsize=16)
def _on_device(values: tuple[float, ...], device: torch.device) -> torch.Tensor:
    """A small constant made once per device: copying it from pageable memory at every step would
    make the host wait for the GPU's queue each time."""
    return torch.tensor(values, dtype=torch.float32, device=device)


class BatchPathTrainer(SafeTrainer):
    """SafeTrainer that finishes each batch on the device with `batch_transform` (train and eval)."""

    def __init__(self, *args, batch_transform: BatchTransform, **kwargs):
        super().__init__(*args, **kwargs)
        self.batch_transform = batch_transform

    def _prepare_inputs(self, inputs):
        return self.batch_transform(super()._prepare_inputs(inputs))


# ---------------------------------------------------------------------------------- assembly
@dataclass
class Inputs:
    """What the Trainer is given for one input pipeline."""

    name: str  # a PIPELINES key
    train: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    collator: object
    trainer_class: type = SafeTrainer
    trainer_kwargs: dict | None = None
    source_size: int | None = None


def batch_inputs(train: ImageSet, test: ImageSet, source: int, size: int, resample: int, mean, std,
                 flip: bool, crop_padding: int, workers: int = 0) -> Inputs:
    """The batch path: both splits decoded once at `source` px; the device does the rest."""
    transform = BatchTransform(size, RESAMPLE_MODES[resample], tuple(mean), tuple(std), crop_padding)
    train_set = SourceImages(decode_all(train, source, resample, workers), train.targets, flip, crop_padding)
    test_set = SourceImages(decode_all(test, source, resample, workers), test.targets, flip=False)
    return Inputs("batch", train_set, test_set, stack_batch, BatchPathTrainer,
                  {"batch_transform": transform}, source)
