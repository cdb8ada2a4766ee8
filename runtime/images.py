"""Turning whatever a user hands us into model input: paths, PIL images or arrays, any size
and mode, EXIF orientation applied, resized as the manifest says.

Sizes are bounded: an image of more than `MAX_PIXELS` pixels (or a decompression bomb) is an error
for that image alone, and an image larger than `MAX_SIDE` on its long side is reduced to it before
anything else (JPEGs are decoded at a reduced scale with `draft`), so the model input, the heatmap
at image size and the pictures all work on bounded sizes."""
from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from _infra.errors import ToolkitError

from .contract import RESAMPLE_NAMES

ImageLike = Union[str, Path, Image.Image, np.ndarray]
RESAMPLE = {name: Image.Resampling(i) for i, name in enumerate(RESAMPLE_NAMES)}


MAX_PIXELS = 100_000_000  # larger images are refused (per image): 100 megapixels, e.g. 10,000 x 10,000
MAX_SIDE = 2048  # larger images are reduced to this long side: heatmaps and pictures at display size


class ImageLoadError(ToolkitError):
    """One input could not be read as an image."""


def describe(item: ImageLike, index: int) -> str:
    return str(item) if isinstance(item, (str, Path)) else f"<{type(item).__name__} #{index}>"


def to_rgb(item: ImageLike) -> Image.Image:
    """Any supported input -> an RGB PIL image, upright (EXIF orientation applied)."""
    if isinstance(item, (str, Path)):
        path = Path(item)
        if not path.is_file():
            raise ImageLoadError(f"{path}: {_not_a_file(path)}")
        if path.stat().st_size == 0:
            raise ImageLoadError(f"{path}: empty file")
        try:
            with warnings.catch_warnings():  # PIL warns above its own limit; ours is checked below
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    _check_pixels(image, str(path))
                    image.draft("RGB", _bounded_size(image.size))  # JPEG: decode at a reduced scale
                    image.load()  # decode now: truncated files fail here, not later
                    return _rgb(ImageOps.exif_transpose(_bounded(image)))
        except ImageLoadError:  # ours (a ValueError): already says what is wrong, never wrapped again
            raise
        except Image.DecompressionBombError as e:
            raise ImageLoadError(f"{path}: larger than {MAX_PIXELS:,} pixels ({e})") from e
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise ImageLoadError(f"{path}: not a readable image ({e})") from e
    if isinstance(item, Image.Image):
        _check_pixels(item, "image")
        return _rgb(ImageOps.exif_transpose(_bounded(item.copy())))
    if isinstance(item, np.ndarray):
        image = Image.fromarray(_as_uint8(item))
        _check_pixels(image, "array")
        return _rgb(_bounded(image))
    raise ImageLoadError(f"unsupported input type {type(item).__name__}; give a path, a PIL image or a uint8 array")


def _not_a_file(path: Path) -> str:
    """What is at `path` when it is not a regular file (never opened: a FIFO would block)."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "no such file" if not path.is_symlink() else "a link to nothing (no such file)"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")]
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    return f"{kind}, not an image file"


def _check_pixels(image: Image.Image, what: str) -> None:
    w, h = image.size
    if w * h > MAX_PIXELS:
        raise ImageLoadError(f"{what}: {w}x{h} is {w * h:,} pixels, more than the limit of {MAX_PIXELS:,}")


def _bounded_size(size: tuple[int, int]) -> tuple[int, int]:
    """`(W, H)` scaled so that the long side is at most `MAX_SIDE` (unchanged when it is)."""
    w, h = size
    scale = min(1.0, MAX_SIDE / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _bounded(image: Image.Image) -> Image.Image:
    """Reduce (in place) an image larger than `MAX_SIDE` on its long side; PIL's reducing gap first
    box-reduces by an integer factor, then resamples bilinearly."""
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image


def _as_uint8(array: np.ndarray) -> np.ndarray:
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (1, 3, 4)):
        raise ImageLoadError(f"array of shape {array.shape}: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)")
    if array.dtype != np.uint8:
        raise ImageLoadError(f"array of dtype {array.dtype}: expected uint8")
    return array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array


def _rgb(image: Image.Image) -> Image.Image:
    """Grayscale, palette, CMYK, 16-bit and alpha modes -> RGB (transparency composited on white)."""
    transparent_colour = "transparency" in image.info  # a PNG's tRNS: one colour (or palette entry) see-through
    if image.mode == "RGB" and not transparent_colour:
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode in ("P", "1", "L", "RGB") and transparent_colour):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray((array / max(array.max(), 1) * 255).astype(np.uint8))
    return image.convert("RGB")


def resize_batch(images: list[Image.Image], size: tuple[int, int], resample: str) -> np.ndarray:
    """RGB images -> uint8 `(N, H, W, 3)` at the model's `(H, W)`."""
    h, w = size
    if resample not in RESAMPLE:  # never a silent other filter: the model would see other pixels
        raise ToolkitError(f"unknown resample filter {resample!r}; known: {', '.join(RESAMPLE)}")
    method = RESAMPLE[resample]
    return np.stack([np.asarray(im if im.size == (w, h) else im.resize((w, h), method), dtype=np.uint8)
                     for im in images]) if images else np.zeros((0, h, w, 3), np.uint8)


def upsample(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`(grid_h, grid_w)` map -> `(H, W)` float32 at an image's `(W, H)` size (PIL's bilinear)."""
    w, h = size
    return np.asarray(Image.fromarray(heatmap.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BILINEAR))


@lru_cache(maxsize=64)
def _two_taps(n_in: int, n_out: int) -> tuple[np.ndarray, ...] | None:
    """PIL's bilinear resize of a length-`n_in` signal to `n_out` as two taps per output,
    `(i0, i1, w0, w1)`, read off PIL's own impulse responses; None when an output mixes more than
    two inputs (shrinking, where PIL widens the filter)."""
    eye = np.eye(n_in, dtype=np.float32)
    m = np.stack([np.asarray(Image.fromarray(eye[i:i + 1], mode="F").resize((n_out, 1), Image.Resampling.BILINEAR))[0]
                  for i in range(n_in)], axis=1)  # (n_out, n_in)
    rows = np.arange(n_out)
    i0 = (m != 0).argmax(axis=1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w0, w1 = m[rows, i0], np.where(i1 != i0, m[rows, i1], 0).astype(np.float32)
    rebuilt = np.zeros_like(m)
    np.add.at(rebuilt, (rows, i0), w0)
    np.add.at(rebuilt, (rows, i1), w1)
    return (i0, i1, w0, w1) if np.array_equal(rebuilt, m) else None


def upsample_all(heatmaps: np.ndarray, sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    """`(N, grid_h, grid_w)` maps -> N float32 maps at the images' `(W, H)` sizes, PIL's values.

    Enlarging, each size group is two gathers and weighted sums over the whole group: elementwise
    numpy, deliberately not a matrix product, whose BLAS threads keep spinning afterwards and take
    the cores from ONNX Runtime. Shrinking falls back to PIL per image."""
    out: list = [None] * len(sizes)
    grid_h, grid_w = heatmaps.shape[1:]
    for w, h in set(sizes):
        index = [i for i, s in enumerate(sizes) if s == (w, h)]
        taps_h, taps_w = _two_taps(grid_h, h), _two_taps(grid_w, w)
        if taps_h is None or taps_w is None:
            for i in index:
                out[i] = upsample(heatmaps[i], (w, h))
            continue
        (r0, r1, a0, a1), (c0, c1, b0, b1) = taps_h, taps_w
        maps = heatmaps[index].astype(np.float32)
        rows = maps[:, r0] * a0[None, :, None] + maps[:, r1] * a1[None, :, None]  # (n, H, grid_w)
        full = rows[:, :, c0] * b0 + rows[:, :, c1] * b1  # (n, H, W)
        for i, m in zip(index, full):
            out[i] = m
    return out
