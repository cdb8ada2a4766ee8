"""Golden files for the Swift package's tests: what the Python side computes for a demo-preset
Core ML export, so `swift test` can check the Swift core against it on any OS.

A `demo`-preset checkpoint (seeded weights, the digits labels) is exported to Core ML (fp16, the
format's default) with attention rollout and with gradient rollout; a few photos of different sizes
go through `runtime` (off macOS, the Core ML program runs in the numpy reference executor). Per
photo: its pixels, logits, probabilities, the heatmap grid, the heatmap at the photo's size
(`runtime.images.upsample_all`) and the overlay pixels (`xai.plots.overlay_pixels`).
    python -m scripts.apple_goldens [--out apple/Tests/ExplainableViTTests/Goldens]"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import runtime
from export import ExportConfig, export_model
from export.parity import parity_images
from finetune.models import write_preset
from finetune.presets import PRESETS
from runtime.coreml import METADATA_PREFIX, PREVIEW_KEY, read_model_metadata
from runtime.images import resize_batch, upsample_all
from xai.plots import OVERLAY_ALPHA, OVERLAY_COLOUR_MAP, overlay_pixels

OUT = Path(__file__).resolve().parents[1] / "apple" / "Tests" / "ExplainableViTTests" / "Goldens"
LABELS = [str(d) for d in range(10)]  # the demo's data set (digits)
PHOTO_SIZES = [(30, 40), (17, 23), (36, 27)]  # (H, W): wider, smaller and taller than the 32 px input
KINDS = {"rollout": [None], "gradrollout": [None, 3]}  # explain kind -> classes asked for (None: predicted)


def photos() -> list[np.ndarray]:
    return [parity_images(1, size, seed=i)[0] for i, size in enumerate(PHOTO_SIZES)]


def floats(a: np.ndarray) -> list[float]:
    """float32 values as the shortest decimals that read back to the same float32."""
    return [float(str(v)) for v in np.asarray(a, np.float32).reshape(-1)]


def app_metadata(package: Path) -> dict[str, str]:
    """The keys an app reads (the converter's own keys carry the date: left out so files stay stable)."""
    return {k: v for k, v in read_model_metadata(package).items() if k.startswith(METADATA_PREFIX) or k == PREVIEW_KEY}


def cases(folder: Path, classes: list[int | None]) -> list[dict]:
    predictor = runtime.load(folder)
    images = photos()
    model_input = resize_batch([Image.fromarray(im) for im in images], predictor.manifest.image_size,
                               predictor.manifest.preprocessing["resample"])
    out = []
    for explain_class in classes:
        targets = None if explain_class is None else np.full(len(images), explain_class)
        raw = predictor.backend.run_batched(model_input, targets)
        prediction = predictor.predict(images, top_k=3, explain_class=explain_class)
        full = upsample_all(prediction.heatmaps, [(im.shape[1], im.shape[0]) for im in images])
        for i, image in enumerate(images):
            assert np.array_equal(full[i], prediction.heatmaps_full[i])
            out.append({"name": f"photo{i}", "height": image.shape[0], "width": image.shape[1],
                        "rgb": image.reshape(-1).tolist(), "explain_class": explain_class,
                        "logits": floats(raw["logits"][i]), "probabilities": floats(prediction.probs[i]),
                        "top3": [label for label, _ in prediction.top_k[i]],
                        "grid": floats(prediction.heatmaps[i]), "heatmap": floats(full[i]),
                        "overlay": overlay_pixels(image, full[i]).reshape(-1).tolist()})
    return out


def write_goldens(out: Path, work: Path) -> list[Path]:
    write_preset(PRESETS["demo"], work / "checkpoint", LABELS, seed=0, init="hf")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, classes in KINDS.items():
        folder = work / kind
        manifest = export_model(work / "checkpoint", folder, ExportConfig(format="coreml", explain=kind, force=True))
        golden = {"kind": kind, "precision": manifest.precision, "backend": runtime.load(folder).backend.label,
                  "metadata": app_metadata(folder / manifest.model_file), "cases": cases(folder, classes)}
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
