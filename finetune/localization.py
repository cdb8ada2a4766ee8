"""A localization set with exact ground truth, generated: scikit-learn's 8x8 digits, enlarged and
pasted at random positions on canvases of clutter (a dark smooth colour field crossed by random
thin strokes, dimmer than the digits, so the object is findable but not the only structure). The
class is the digit, the box is where its ink lies, so a pointing game needs no human annotation.
Deterministic for a given seed.

Placement: the centre of the digit's ink is uniform over the whole canvas, borders included, and
what falls outside is cut (at least half the ink stays visible along each axis; the box is the
visible ink). Digits kept whole inside the canvas cluster near the centre (a 16 px digit at
x, y in U[0, 16] on 32 px), and a map that knows nothing of the image but peaks in the middle
then wins the pointing game 0.57 of the time against a 0.17 chance level; placed this way every
pixel is about as likely to lie in the box as the box's share of the canvas.
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


def ink_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive, of the mask's ink (values above `INK`)."""
    ys, xs = np.nonzero(mask > INK)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def paste(background: np.ndarray, mask: np.ndarray, colour: np.ndarray, x: int, y: int) -> tuple[np.ndarray, tuple]:
    """Blend `colour` through the square `mask` with its top-left corner at (x, y), which may lie
    off the canvas (that part is cut); return the uint8 image and the visible ink's box."""
    out = background.copy()
    h, w = out.shape[:2]
    s = mask.shape[0]
    cx0, cy0, cx1, cy1 = max(x, 0), max(y, 0), min(x + s, w), min(y + s, h)  # on the canvas
    visible = mask[cy0 - y:cy1 - y, cx0 - x:cx1 - x, None]
    out[cy0:cy1, cx0:cx1] = out[cy0:cy1, cx0:cx1] * (1 - visible) + colour * visible
    bx0, by0, bx1, by1 = ink_box(visible[..., 0])
    return out.round().clip(0, 255).astype(np.uint8), (cx0 + bx0, cy0 + by0, cx0 + bx1, cy0 + by1)


def place(rng: np.random.Generator, box: tuple[int, int, int, int], size: int) -> tuple[int, int]:
    """Top-left corner (x, y) of the digit's square that puts the centre of its ink `box` (in the
    square's coordinates) at a pixel drawn uniformly from the whole canvas."""
    cx, cy = (int(v) for v in rng.integers(0, size, 2))
    x0, y0, x1, y1 = box
    return cx - (x0 + x1) // 2, cy - (y0 + y1) // 2


def make_localization_set(per_digit: int = 6, size: int = CANVAS, object_size: int = OBJECT,
                          seed: int = 0, place=place) -> LocalizationSet:
    """`per_digit` canvases for each of scikit-learn's 1,797 digits (10,782 images by default);
    `place(rng, ink box, size)` gives each digit's top-left corner."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    images, labels, boxes, sources = [], [], [], []
    for index, (pixels, label) in enumerate(zip(digits.images, digits.target)):
        mask = _digit_mask(pixels, object_size)
        ink = ink_box(mask)
        for _ in range(per_digit):
            x, y = place(rng, ink, size)
            image, box = paste(_background(rng, size), mask, rng.integers(200, 256, 3).astype(np.float32), x, y)
            images.append(image), labels.append(int(label)), boxes.append(box), sources.append(index)
    return LocalizationSet(np.stack(images), np.array(labels), np.array(boxes), np.array(sources))
