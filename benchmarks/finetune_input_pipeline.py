"""The CPU's share of each input pipeline: images/s one loader process hands to the training loop
(no model), for CIFAR-10 into a 224-px model with flips and pad-and-crop, one thread.

- loader: `TorchImages` (decode, PIL resize to 224, flip, crop) + `Normalize`, as a worker does it
  every epoch (CIFAR at 224 px does not fit the 2 GB cache);
- batch: `SourceImages.__getitems__` + `stack_batch` on images decoded once at 32 px (what a worker
  does), and separately `batch_transform` on the CPU (what the GPU does in the batch path).

    python benchmarks/finetune_input_pipeline.py [--data ../shared/data/cifar10-jpeg] [--images 2048]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import machine_info  # noqa: E402
from finetune.data import load_data  # noqa: E402
from finetune.pipeline import BatchTransform, SourceImages, decode_all, stack_batch  # noqa: E402
from finetune.presets import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from finetune.train import Normalize, TorchImages  # noqa: E402

BILINEAR = 2


def rate(fn, n_images: int) -> float:
    start = time.perf_counter()
    fn()
    return n_images / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/cifar10-jpeg")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--padding", type=int, default=28)
    parser.add_argument("--out", default="benchmarks/results/finetune_input_pipeline.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = load_data(args.data).train.subset(args.images)
    source = images[0][0].size[0]
    batches = [list(range(i, min(i + args.batch, len(images)))) for i in range(0, len(images), args.batch)]
    loader = TorchImages(images, args.size, BILINEAR, flip=True, crop_padding=args.padding)
    loader._cache = None  # as at 224 px on CIFAR-10: too big to cache, so every epoch decodes and resizes
    normalize = Normalize(IMAGENET_MEAN, IMAGENET_STD)
    decoded = decode_all(images, source, BILINEAR)
    source_set = SourceImages(decoded, images.targets, flip=True, crop_padding=args.padding)
    raw = [stack_batch(source_set.__getitems__(b)) for b in batches]
    transform = BatchTransform(args.size, "bilinear", IMAGENET_MEAN, IMAGENET_STD, args.padding)
    rows = {
        "loader path, per worker (decode + PIL resize + augment + normalise)":
            rate(lambda: [normalize([loader[i] for i in b]) for b in batches], len(images)),
        "batch path, per worker (index + augmentation draws + stack, uint8 at source size)":
            rate(lambda: [stack_batch(source_set.__getitems__(b)) for b in batches], len(images)),
        "batch path, device side run on this CPU (resize + flip + crop + normalise)":
            rate(lambda: [transform(r) for r in raw], len(images)),
    }
    for name, value in rows.items():
        print(f"{value:10.0f} img/s  {name}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine_info(), "args": vars(args), "source_size": source,
                               "images_per_s": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
