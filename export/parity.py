"""Export checks its own work: the exported graph against PyTorch on a few images.

The reference is the *unmodified* checkpoint run the ordinary way (processor normalisation,
eager attention) with the rollout computed by `xai`'s full matrix product, so folding, fp16
epsilons, quantization and the in-graph CLS-row rollout are all checked at once.
"""
from __future__ import annotations

import numpy as np

from runtime.torch import run_checkpoint

from .config import ExportError

# Max |exported - PyTorch| per output and precision. Logits are compared relative to the
# largest reference logit (at least 1), probabilities and maps (max 1) absolutely. The fp16
# `relevance` bar is loose on purpose: a backward pass in fp16 cancels (softmax and LayerNorm
# derivatives subtract near-equal terms), and on random-weight test models, whose gradient maps
# are all small terms, the worst patch moved by 0.15 (Core ML fp16, distilled DeiT); on trained
# models bench reports the correlation that matters.
TOLERANCES = {
    "fp32": {"logits": 1e-4, "probs": 1e-4, "rollout": 1e-4, "attention": 1e-4, "relevance": 1e-4},
    "fp16": {"logits": 2e-2, "probs": 1e-2, "rollout": 2e-2, "attention": 1e-2, "relevance": 0.2},
    "int8": {"logits": 0.25, "probs": 0.1, "rollout": 0.25, "attention": 0.1, "relevance": 0.5},
}


class ParityError(ExportError):
    """Exported outputs differ from PyTorch beyond tolerance; the message lists every output."""

    def __init__(self, report: dict):
        self.report = report
        lines = [f"{name}: max diff {r['max_abs_diff']:.3g} (tolerance {r['tolerance']:.3g})"
                 + ("  FAIL" if not r["ok"] else "") for name, r in report["outputs"].items()]
        super().__init__(f"exported {report['precision']} model disagrees with PyTorch: " + "; ".join(lines))


def parity_images(n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """`(n, H, W, 3)` uint8: smooth colour gradients with blobs and noise, reproducible."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    images = []
    for _ in range(n):
        base = np.stack([np.sin(rng.uniform(1, 6) * xx + rng.uniform(0, 6) * yy + rng.uniform(0, 3))
                         for _ in range(3)], axis=-1)
        cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r ** 2)[..., None] * rng.uniform(-1, 1, 3)
        pixels = 127.5 + 90 * base + 80 * blob + rng.normal(0, 12, (h, w, 3))
        images.append(np.clip(pixels, 0, 255).astype(np.uint8))
    return np.stack(images)


def reference_outputs(checkpoint, images: np.ndarray, explain: str, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """PyTorch outputs for uint8 `(N, H, W, 3)` images, computed without any export trick
    (`targets`: the classes a gradrollout map explains; None: the predicted ones)."""
    return run_checkpoint(checkpoint, images, explain, targets)


def compare(reference: dict[str, np.ndarray], exported: dict[str, np.ndarray], precision: str) -> dict:
    """Per-output max differences against the precision's tolerances; `ok` only if all pass."""
    limits, outputs = TOLERANCES[precision], {}
    for name, ref in reference.items():
        kind = "attention" if name.startswith("attention_") else name
        got = exported.get(name)
        if got is None or got.shape != ref.shape:
            outputs[name] = {"max_abs_diff": float("inf"), "tolerance": limits[kind], "ok": False,
                             "problem": f"shape {None if got is None else got.shape}, expected {ref.shape}"}
            continue
        diff = float(np.abs(got.astype(np.float64) - ref).max())
        if kind == "logits":
            diff /= max(1.0, float(np.abs(ref).max()))
        outputs[name] = {"max_abs_diff": diff, "tolerance": limits[kind], "ok": diff <= limits[kind]}
    top1 = float((exported["logits"].argmax(-1) == reference["logits"].argmax(-1)).mean()) if "logits" in exported else 0.0
    return {"status": "passed" if all(o["ok"] for o in outputs.values()) else "failed", "precision": precision,
            "images": int(len(reference["logits"])), "top1_agreement": top1, "outputs": outputs}
