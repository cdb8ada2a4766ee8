"""The CPU's share of each fine-tuning input pipeline: images/s one loader process hands to the
training loop (no model), e.g. CIFAR-10 into a 224-px model with flips and pad-and-crop, one thread.

- loader: `TorchImages` (decode, PIL resize, flip, crop) + `Normalize`, as a worker does it every
  epoch (CIFAR at 224 px does not fit the decoded cache);
- batch: `SourceImages.__getitems__` + `stack_batch` on images decoded once at source size (what a
  worker does), and separately `BatchTransform` on the CPU (what the GPU does in the batch path)."""
from __future__ import annotations

import time

NAME = "finetune-input-pipeline"
SUMMARY = "images/s each fine-tuning input pipeline's CPU part delivers (loader vs batch path), one thread"
SMOKE = ["--data", "digits", "--images", "32", "--size", "32", "--batch", "16", "--padding", "4"]
BILINEAR = 2


def add_arguments(parser) -> None:
    parser.add_argument("--data", default="../shared/data/cifar10-jpeg")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--size", type=int, default=224, help="the model's input size")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--padding", type=int, default=28, help="pad-and-crop padding at the model's size")


def rate(fn, n_images: int) -> float:
    start = time.perf_counter()
    fn()
    return n_images / (time.perf_counter() - start)


def run(args) -> dict:
    import torch

    from finetune.data import load_data
    from finetune.pipeline import BatchTransform, SourceImages, decode_all, stack_batch
    from finetune.presets import IMAGENET_MEAN, IMAGENET_STD
    from finetune.train import Normalize, TorchImages

    from . import column, shaped

    torch.set_num_threads(1)
    images = load_data(args.data).train.subset(args.images)
    source = images[0][0].size[0]
    batches = [list(range(i, min(i + args.batch, len(images)))) for i in range(0, len(images), args.batch)]
    loader = TorchImages(images, args.size, BILINEAR, flip=True, crop_padding=args.padding)
    loader._cache = None  # as at 224 px on CIFAR-10: too big to cache, so every epoch decodes and resizes
    normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
    source_set = SourceImages(decode_all(images, source, BILINEAR), images.targets, flip=True,
                              crop_padding=args.padding)
    raw = [stack_batch(source_set.__getitems__(b)) for b in batches]
    transform = BatchTransform(args.size, "bilinear", IMAGENET_MEAN, IMAGENET_STD, args.padding)
    rates = {
        "loader path, per worker (decode + PIL resize + augment + normalise)":
            rate(lambda: [normalize([loader[i] for i in b]) for b in batches], len(images)),
        "batch path, per worker (index + augmentation draws + stack, uint8 at source size)":
            rate(lambda: [stack_batch(source_set.__getitems__(b)) for b in batches], len(images)),
        "batch path, device side run on this CPU (resize + flip + crop + normalise)":
            rate(lambda: [transform(r) for r in raw], len(images)),
    }
    header = {**{k: v for k, v in vars(args).items() if k in ("data", "images", "size", "batch", "padding")},
              "source_size": source, "about": f"{source} px source, {args.size} px model input, one thread"}
    return shaped(header, [{"work": work, "images_per_s": value} for work, value in rates.items()],
                  [column("work"), column("images_per_s", "images/s", digits=0)], name="finetune_input_pipeline")
