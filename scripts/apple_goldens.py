"""Golden files for the Swift package's tests: what the Python side computes, so `swift test` can
check the Swift core against it on any OS.

The model is non-square on purpose (input 48 px wide and 32 high, patch 8: a grid of 4 rows and 6
columns), so a swapped pair of axes anywhere in Swift (input size, grid, resize passes, photo <->
patch mapping) fails a test. Its checkpoint (seeded weights, the digits labels) is exported to
Core ML (fp16, the format's default) with attention rollout and with gradient rollout.

The photos are drawn here (deterministic scenes, not square), saved as PNG files with an EXIF
orientation and, for two, transparency, and go through `runtime` as files do
(`runtime.images.to_rgb`: long side capped, orientation, alpha on white; then the model's resize).
Two photos are capped with a small `MAX_SIDE` (the Swift side takes `maxSide` as an argument) so
the cap's reduce-then-resample path is checked without a 2048 px golden.

`images.json`: per photo the stored pixels, the photo `runtime` explains, the model input, and each
photo pixel's heatmap cell; plus Pillow's orientations, thumbnail sizes and resampling filters on
small cases. `rollout.json` / `gradrollout.json`: the export's metadata and, per photo, logits,
probabilities, top 3, heatmap grid, heatmap at the photo's size and overlay pixels.
Pixel and float arrays are base64 (uint8 / little-endian float32) to keep the files small.
    python -m scripts.apple_goldens [--out apple/Tests/ExplainableViTTests/Goldens]"""
from __future__ import annotations

import argparse
import base64
import contextlib
import json
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

import runtime
import runtime.images
from export import ExportConfig, export_model
from runtime.coreml import METADATA_PREFIX, PREVIEW_KEY, read_model_metadata
from runtime.images import RESAMPLE, resize_batch, to_rgb, upsample_all
from xai.plots import OVERLAY_ALPHA, OVERLAY_COLOUR_MAP, overlay_pixels

OUT = Path(__file__).resolve().parents[1] / "apple" / "Tests" / "ExplainableViTTests" / "Goldens"
LABELS = [str(d) for d in range(10)]  # the demo's data set (digits)
IMAGE_SIZE = (32, 48)  # (H, W) of the model input: not square
PATCH = 8  # grid (4, 6): rows != columns
MODEL = dict(patch_size=PATCH, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
KINDS = {"rollout": [None], "gradrollout": [None, 3]}  # explain kind -> classes asked for (None: predicted)


class Photo(NamedTuple):
    name: str
    size: tuple[int, int]  # stored (W, H), before orientation
    orientation: int  # EXIF 1-8
    alpha: bool
    max_side: int = runtime.images.MAX_SIDE


PHOTOS = [
    Photo("landscape", (64, 44), 1, False),
    Photo("portrait_exif6", (60, 40), 6, False),  # stored on its side: upright 40x60
    Photo("sticker_alpha_exif8", (56, 42), 8, True),
    Photo("large_capped", (132, 100), 1, False, max_side=32),  # reduced 2x, then resampled to 32x24
    Photo("alpha_capped_exif5", (90, 64), 5, True, max_side=40),  # premultiplied resample, transposed
]


def b64(array: np.ndarray, dtype) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def floats(a: np.ndarray) -> list[float]:
    """float32 values as the shortest decimals that read back to the same float32."""
    return [float(str(v)) for v in np.asarray(a, np.float32).reshape(-1)]


def scene(photo: Photo, seed: int) -> Image.Image:
    """A small outdoor scene (sky, sun, hills, a house, noise); with alpha: a cut-out with soft edges."""
    rng = np.random.default_rng(seed)
    w, h = photo.size
    y = np.linspace(0, 1, h)[:, None, None]
    sky = (1 - y) * np.array([70, 130, 210]) + y * np.array([200, 225, 240])
    image = Image.fromarray(np.repeat(sky, w, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    sun = (rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.35) * h, 0.08 * max(w, h))
    draw.ellipse([sun[0] - sun[2], sun[1] - sun[2], sun[0] + sun[2], sun[1] + sun[2]], fill=(255, 220, 120))
    for k, colour in enumerate([(60, 120, 60), (40, 90, 45)]):
        phase, level = rng.uniform(0, 6), 0.55 + 0.15 * k
        hill = [(x, h * (level + 0.08 * np.sin(phase + 6 * x / w))) for x in range(w + 1)]
        draw.polygon(hill + [(w, h), (0, h)], fill=colour)
    x0, y0 = rng.uniform(0.2, 0.6) * w, 0.5 * h
    draw.rectangle([x0, y0, x0 + 0.2 * w, y0 + 0.2 * h], fill=(180, 70, 50))
    draw.polygon([(x0 - 2, y0), (x0 + 0.1 * w, y0 - 0.12 * h), (x0 + 0.2 * w + 2, y0)], fill=(90, 40, 30))
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    pixels = np.asarray(image, np.float64) + rng.normal(0, 6, (h, w, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if not photo.alpha:
        return image
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse([0.1 * w, 0.08 * h, 0.9 * w, 0.92 * h], fill=255)
    image.putalpha(mask.filter(ImageFilter.GaussianBlur(2.5)))  # alpha 0 outside, 255 inside, ramps between
    return image


def saved(photo: Photo, image: Image.Image, folder: Path) -> Path:
    """`image` as a PNG file carrying the photo's EXIF orientation."""
    exif = Image.Exif()
    exif[0x0112] = photo.orientation
    path = folder / f"{photo.name}.png"
    image.save(path, exif=exif)
    return path


@contextlib.contextmanager
def max_side(side: int):
    """`runtime.images.MAX_SIDE` set for one photo (read at call time by `runtime.images._bounded`)."""
    old, runtime.images.MAX_SIDE = runtime.images.MAX_SIDE, side
    try:
        yield
    finally:
        runtime.images.MAX_SIDE = old


def cell_of_pixel(width: int, height: int) -> list[int]:
    """Each photo pixel centre's heatmap cell `row * columns + column`, derived from the patch size:
    the centre lands in the model input at `(x + 0.5) * W_in / W` and its patch is that over PATCH.
    Exact integer arithmetic; no centre lies on a cell edge (asserted), so float code can agree."""
    (h_in, w_in), columns = IMAGE_SIZE, IMAGE_SIZE[1] // PATCH
    cells = []
    for y in range(height):
        row, edge_r = divmod((2 * y + 1) * h_in, 2 * height * PATCH)
        for x in range(width):
            column, edge_c = divmod((2 * x + 1) * w_in, 2 * width * PATCH)
            assert edge_r and edge_c, (width, height, x, y)
            cells.append(row * columns + column)
    return cells


def photo_cases(folder: Path) -> tuple[list[dict], list[Path]]:
    """The image path for each photo: stored pixels, the photo after `to_rgb`, the model input."""
    out, paths = [], []
    for i, photo in enumerate(PHOTOS):
        path = saved(photo, scene(photo, seed=i), folder)
        with Image.open(path) as stored:
            raw = np.asarray(stored.convert("RGBA"))
        with max_side(photo.max_side):
            upright = to_rgb(path)
        model_input = resize_batch([upright], IMAGE_SIZE, "bilinear")[0]
        pixels = np.asarray(upright)
        out.append({"name": photo.name, "orientation": photo.orientation, "max_side": photo.max_side,
                    "alpha": photo.alpha, "raw_width": raw.shape[1], "raw_height": raw.shape[0], "raw": b64(raw, np.uint8),
                    "width": pixels.shape[1], "height": pixels.shape[0], "photo": b64(pixels, np.uint8),
                    "input": b64(model_input, np.uint8), "cell_of_pixel": cell_of_pixel(pixels.shape[1], pixels.shape[0])})
        paths.append(path)
    return out, paths


def pillow_cases() -> dict:
    """Pillow's own steps on small inputs: each EXIF orientation, thumbnail sizes, every filter."""
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, (3, 5, 4), dtype=np.uint8)  # 5 wide, 3 high: every pixel different
    oriented = {}
    for orientation in range(1, 9):
        image = Image.fromarray(raw)
        image.getexif()[0x0112] = orientation
        oriented[str(orientation)] = b64(np.asarray(ImageOps.exif_transpose(image)), np.uint8)
    sizes = []
    for w, h, side in [(4032, 3024, 2048), (3024, 4032, 2048), (2049, 2048, 2048), (5000, 3, 2048), (3, 5000, 2048),
                       (1001, 667, 100), (667, 1001, 100), (999, 333, 64), (130, 97, 32)]:
        image = Image.new("L", (w, h))
        image.thumbnail((side, side), Image.Resampling.BILINEAR, reducing_gap=2.0)
        sizes.append([w, h, side, *image.size])
    source = rng.integers(0, 256, (11, 17, 3), dtype=np.uint8)  # 17 wide, 11 high
    resized = [{"filter": name, "width": w, "height": h,
                "pixels": b64(np.asarray(Image.fromarray(source).resize((w, h), RESAMPLE[name])), np.uint8)}
               for name in ["box", "bilinear", "hamming", "bicubic", "lanczos"] for w, h in [(7, 5), (23, 13), (17, 4), (20, 4), (15, 2)]]
    return {"orientation_source": {"width": 5, "height": 3, "rgba": b64(raw, np.uint8)}, "oriented": oriented,
            "thumbnail_sizes": sizes, "resize_source": {"width": 17, "height": 11, "rgb": b64(source, np.uint8)},
            "resized": resized}


def app_metadata(package: Path) -> dict[str, str]:
    """The keys an app reads (the converter's own keys carry the date: left out so files stay stable)."""
    return {k: v for k, v in read_model_metadata(package).items() if k.startswith(METADATA_PREFIX) or k == PREVIEW_KEY}


def model_cases(folder: Path, classes: list[int | None], paths: list[Path]) -> list[dict]:
    predictor = runtime.load(folder)
    assert predictor.manifest.preprocessing["resample"] == "bilinear"
    out = []
    for explain_class in classes:
        for photo, path in zip(PHOTOS, paths):
            with max_side(photo.max_side):
                upright = np.asarray(to_rgb(path))
                prediction = predictor.predict([path], top_k=3, explain_class=explain_class)
            model_input = resize_batch([Image.fromarray(upright)], IMAGE_SIZE, "bilinear")
            raw = predictor.backend.run_batched(model_input, None if explain_class is None else np.full(1, explain_class))
            full = upsample_all(prediction.heatmaps, [(upright.shape[1], upright.shape[0])])[0]
            assert np.array_equal(full, prediction.heatmaps_full[0])
            out.append({"name": photo.name, "explain_class": explain_class, "logits": floats(raw["logits"][0]),
                        "probabilities": floats(prediction.probs[0]), "top3": [label for label, _ in prediction.top_k[0]],
                        "grid": floats(prediction.heatmaps[0]), "heatmap": b64(full, "<f4"),
                        "overlay": b64(overlay_pixels(upright, full), np.uint8)})
    return out


def write_checkpoint(folder: Path, seed: int = 0) -> None:
    """The non-square model: a ViT config with `image_size=[H, W]` (transformers reads both forms)."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    from finetune._compat import pil_image_processor_class
    from finetune.presets import HALF

    torch.manual_seed(seed)
    config = ViTConfig(image_size=list(IMAGE_SIZE), **MODEL, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
                       label2id={n: i for i, n in enumerate(LABELS)})
    ViTForImageClassification(config).save_pretrained(folder, safe_serialization=True)
    processor = pil_image_processor_class()(size={"height": IMAGE_SIZE[0], "width": IMAGE_SIZE[1]},
                                            image_mean=list(HALF), image_std=list(HALF))
    processor.save_pretrained(folder)


def write_goldens(out: Path, work: Path) -> list[Path]:
    write_checkpoint(work / "checkpoint")
    (work / "photos").mkdir()
    out.mkdir(parents=True, exist_ok=True)
    photos, paths = photo_cases(work / "photos")
    written = [out / "images.json"]
    written[-1].write_text(json.dumps({"input_size": list(IMAGE_SIZE), "patch": PATCH, "resample": "bilinear",
                                       "photos": photos, "pillow": pillow_cases()}, separators=(",", ":")))
    for kind, classes in KINDS.items():
        folder = work / kind
        manifest = export_model(work / "checkpoint", folder, ExportConfig(format="coreml", explain=kind, force=True))
        golden = {"kind": kind, "precision": manifest.precision, "backend": runtime.load(folder).backend.label,
                  "metadata": app_metadata(folder / manifest.model_file), "cases": model_cases(folder, classes, paths)}
        written.append(out / f"{kind}.json")
        written[-1].write_text(json.dumps(golden, separators=(",", ":")))
    from matplotlib import colormaps

    table = colormaps[OVERLAY_COLOUR_MAP](np.arange(256) / 255, bytes=True)[:, :3]
    written.append(out / "colourmap.json")
    written[-1].write_text(json.dumps({"name": OVERLAY_COLOUR_MAP, "alpha": OVERLAY_ALPHA,
                                       "table": table.reshape(-1).tolist()}))
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for path in write_goldens(args.out, Path(work)):
            print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
