"""A localization set with exact ground truth, generated: scikit-learn's 8x8 digits, enlarged and
pasted at random positions on canvases of clutter (a dark smooth colour field crossed by random
thin strokes, dimmer than the digits, so the object is findable but not the only structure). The
class is the digit, the box is where its ink lies, so a pointing game needs no human annotation.
Deterministic for a given seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANVAS = 32  # px: the `cifar-tiny` input size (8 x 8 patches of 4 px)
OBJECT = 16  # px: a digit's square on the canvas
INK = 0.25  # mask level that counts as ink for the box


@dataclass(frozen=True)
class LocalizationSet:
    images: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) digit 0..9
    boxes: np.ndarray  # (N, 4) x0, y0, x1, y1 (exclusive) of the digit's ink
    source_index: np.ndarray  # (N,) which of the 1,797 digits, so splits never share one
    label_names: tuple[str, ...] = tuple(str(d) for d in range(10))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Dark smooth random colour field plus 3-6 thin random strokes, float (S, S, 3) in 0..255."""
    from PIL import Image, ImageDraw

    coarse = rng.uniform(10, 100, (4, 4, 3)).astype(np.uint8)
    canvas = Image.fromarray(coarse).resize((size, size), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(3, 7)):
        points = [tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(2)]
        colour = tuple(int(v) for v in rng.integers(60, 160, 3))
        draw.line(points, fill=colour, width=1)
    return np.asarray(canvas, dtype=np.float32)


def _digit_mask(pixels: np.ndarray, size: int) -> np.ndarray:
    """8x8 digit in 0..16 -> ink mask (size, size) in 0..1."""
    from PIL import Image

    image = Image.fromarray((pixels * (255 / 16)).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32) / 255


def paste(background: np.ndarray, mask: np.ndarray, colour: np.ndarray, x: int, y: int) -> tuple[np.ndarray, tuple]:
    """Blend `colour` through `mask` at (x, y); return the uint8 image and the ink's box."""
    out = background.copy()
    s = mask.shape[0]
    region = out[y:y + s, x:x + s]
    out[y:y + s, x:x + s] = region * (1 - mask[..., None]) + colour * mask[..., None]
    ys, xs = np.nonzero(mask > INK)
    box = (x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1)
    return out.round().clip(0, 255).astype(np.uint8), box


def make_localization_set(per_digit: int = 6, size: int = CANVAS, object_size: int = OBJECT,
                          seed: int = 0) -> LocalizationSet:
    """`per_digit` canvases for each of scikit-learn's 1,797 digits (10,782 images by default)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    images, labels, boxes, sources = [], [], [], []
    for index, (pixels, label) in enumerate(zip(digits.images, digits.target)):
        mask = _digit_mask(pixels, object_size)
        for _ in range(per_digit):
            x, y = (int(v) for v in rng.integers(0, size - object_size + 1, 2))
            image, box = paste(_background(rng, size), mask, rng.integers(200, 256, 3).astype(np.float32), x, y)
            images.append(image), labels.append(int(label)), boxes.append(box), sources.append(index)
    return LocalizationSet(np.stack(images), np.array(labels), np.array(boxes), np.array(sources))
