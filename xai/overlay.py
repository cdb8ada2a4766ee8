"""Explanation pictures with Pillow alone (the base install has no matplotlib): the heatmap through
the jet colour map, blended over the photo, and the panels `python -m runtime predict` writes.

The colour table is matplotlib's `jet` as its 8-bit lookup (`colormaps["jet"](x, bytes=True)`), built
here from the same segment data, so a picture is the same byte for byte with or without matplotlib
(and the Swift package draws the same overlay, see tests/test_apple_goldens.py)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from _infra.pictures import TICK_CHARS, TITLE_CHARS, printable

FLAT_MAP_RANGE = 1e-6  # a map whose max - min is below this is shown as all zeros, not as noise
OVERLAY_ALPHA = 0.5
TABLE_SIZE = 256  # matplotlib's default lookup size (rcParams["image.lut"])
JET = {  # matplotlib's _jet_data: (x, value) breakpoints per channel, linear in between
    "red": ((0.0, 0.0), (0.35, 0.0), (0.66, 1.0), (0.89, 1.0), (1.0, 0.5)),
    "green": ((0.0, 0.0), (0.125, 0.0), (0.375, 1.0), (0.64, 1.0), (0.91, 0.0), (1.0, 0.0)),
    "blue": ((0.0, 0.5), (0.11, 1.0), (0.34, 1.0), (0.65, 0.0), (1.0, 0.0)),
}
DISPLAY = 256  # panel height in pixels
FONT_SIZE = 14
MARGIN = 8
WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (90, 90, 90)
WINNER, OTHERS = (255, 127, 14), (31, 119, 180)  # matplotlib's tab:orange and tab:blue


def jet_table() -> np.ndarray:
    """`(256, 3)` uint8: jet sampled at 256 evenly spaced points, scaled by 255 and truncated."""
    x = np.linspace(0.0, 1.0, TABLE_SIZE)
    channels = [np.interp(x, *zip(*JET[c])) for c in ("red", "green", "blue")]
    return (np.clip(np.stack(channels, axis=-1), 0, 1) * 255).astype(np.uint8)


JET_TABLE = jet_table()


def stretch(heatmap: np.ndarray) -> np.ndarray:
    """Min-max stretch to 0..1 for display: rollout maps are often nearly flat (all ~0.8-1)."""
    low, high = float(heatmap.min()), float(heatmap.max())
    return ((heatmap - low) / (high - low)).astype(np.float32) if high - low > FLAT_MAP_RANGE \
        else np.zeros_like(heatmap, dtype=np.float32)


def colourise(values: np.ndarray) -> np.ndarray:
    """Values in 0..1 `(...)` -> jet colours `(..., 3)` uint8, indexed as matplotlib indexes its table."""
    index = np.clip((values * TABLE_SIZE).astype(np.int64), 0, TABLE_SIZE - 1)
    return JET_TABLE[index]


def overlay_pixels(image: np.ndarray, heatmap: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """`(H, W, 3)` uint8 photo and `(H, W)` heatmap -> `(H, W, 4)` uint8 RGBA: the stretched map in
    jet, blended with weight `alpha` over the photo, rounded half up, opaque (what apps draw)."""
    colours = colourise(stretch(heatmap)).astype(np.float64)
    blended = np.floor(alpha * colours + (1 - alpha) * image.astype(np.float64) + 0.5)
    return np.concatenate([blended.astype(np.uint8), np.full((*heatmap.shape, 1), 255, np.uint8)], axis=-1)


def overlay_image(image: np.ndarray, heatmap: np.ndarray, alpha: float = OVERLAY_ALPHA) -> Image.Image:
    """`overlay_pixels` as an RGB PIL image at the photo's size."""
    return Image.fromarray(overlay_pixels(image, heatmap, alpha)[..., :3], "RGB")


# ---------------------------------------------------------------------------------- panels
def font(size: int = FONT_SIZE) -> ImageFont.ImageFont:
    """Pillow's bundled font at `size` (its bitmap font where Pillow was built without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def shown(image: Image.Image, height: int = DISPLAY) -> Image.Image:
    """`image` at `height` pixels: small inputs (8 px digits) enlarged with visible pixels, large
    ones reduced smoothly."""
    width = max(1, round(image.width * height / image.height))
    resample = Image.Resampling.NEAREST if height >= 2 * image.height else Image.Resampling.LANCZOS
    return image.convert("RGB").resize((width, height), resample)


def colour_bar(width: int, height: int = 10) -> Image.Image:
    """A horizontal jet strip, low relevance on the left."""
    return Image.fromarray(np.repeat(colourise(np.linspace(0, 1, width))[None], height, axis=0), "RGB")


def framed(panels: Sequence[tuple[Image.Image, str]], title: str, bar: bool) -> Image.Image:
    """Panels side by side with a caption over each and a title over all; `bar`: a colour bar
    (min-max scaled relevance) under the row."""
    face, gap = font(), MARGIN
    line = FONT_SIZE + 4
    captions = max((c.count("\n") + 1 for _, c in panels), default=1)
    top = MARGIN + line + gap + captions * line
    width = sum(p.width for p, _ in panels) + gap * (len(panels) + 1)
    height = top + DISPLAY + gap + (2 * line + gap if bar else 0)
    canvas = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(canvas)
    draw.text((gap, MARGIN), printable(title, TITLE_CHARS), fill=BLACK, font=face)
    x = gap
    for panel, caption in panels:
        draw.multiline_text((x, MARGIN + line + gap), caption, fill=GREY, font=face, spacing=4)
        canvas.paste(panel, (x, top))
        x += panel.width + gap
    if bar:
        y = top + DISPLAY + gap
        canvas.paste(colour_bar(width - 2 * gap), (gap, y))
        draw.text((gap, y + 12), "low", fill=GREY, font=face)
        draw.text((width - gap - draw.textlength("high", font=face), y + 12), "high", fill=GREY, font=face)
        label = "relevance (min-max scaled)"
        draw.text(((width - draw.textlength(label, font=face)) / 2, y + 12), label, fill=GREY, font=face)
    return canvas


def explanation_picture(image: np.ndarray, heatmap: np.ndarray, title: str,
                        method: str = "attention rollout") -> Image.Image:
    """The photo beside its heatmap overlay, with a colour bar. image `(H, W, 3)` uint8; heatmap
    `(H, W)` at the image's size."""
    return framed([(shown(Image.fromarray(image)), "input"),
                   (shown(overlay_image(image, heatmap)), printable(method, TICK_CHARS))], title, bar=True)


def comparison_picture(image: np.ndarray, rows: Sequence[tuple[str, str, float, np.ndarray]],
                       title: str = "") -> Image.Image:
    """One photo, several maps: each row is (name, top-1 label, probability, heatmap `(H, W)`)."""
    panels = [(shown(Image.fromarray(image)), "input")]
    panels += [(shown(overlay_image(image, heatmap)),
                f"{printable(name, TICK_CHARS)}\n{printable(label, TICK_CHARS)} ({prob:.1%})")
               for name, label, prob, heatmap in rows]
    return framed(panels, title, bar=True)


def probabilities_picture(labels: Sequence[str], probs: np.ndarray, title: str, top: int = 10) -> Image.Image:
    """Horizontal bars of the `top` most likely classes, most likely first, the winner in orange."""
    face, line = font(), FONT_SIZE + 10
    order = np.argsort(-probs, kind="stable")[:top]
    names = [printable(labels[i], TICK_CHARS) for i in order]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = MARGIN * 2 + int(max(probe.textlength(n, font=face) for n in names))
    bars = 300  # pixels for 100 %
    width = left + bars + 70
    top_y = MARGIN + line
    canvas = Image.new("RGB", (width, top_y + line * len(order) + MARGIN), WHITE)
    draw = ImageDraw.Draw(canvas)
    draw.text((MARGIN, MARGIN), printable(title, TITLE_CHARS), fill=BLACK, font=face)
    for row, (i, name) in enumerate(zip(order, names)):
        y = top_y + row * line
        draw.text((left - MARGIN - draw.textlength(name, font=face), y + 4), name, fill=BLACK, font=face)
        length = max(1, round(float(probs[i]) * bars))
        draw.rectangle((left, y + 3, left + length, y + line - 3), fill=WINNER if row == 0 else OTHERS)
        draw.text((left + length + 6, y + 4), f"{float(probs[i]):.1%}", fill=BLACK, font=face)
    return canvas
