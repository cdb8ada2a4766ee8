"""Peers: what a user would ship without this project, measured on the same rows. Plain PyTorch
without an explanation is the torch backend with explain "none"; optimum's ONNX export
(`optimum-cli export onnx`, logits only, float pixels in) at fp32 and with
`optimum-cli onnxruntime quantize --avx2` (dynamic int8) runs here through ONNX Runtime, and
the fp32 graph through OpenVINO as well."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

MADE_FROM = "made_from.json"
SOURCE = "optimum-fp32"  # folder of the plain fp32 export (beside the others) that int8 and -O2/-O3 start from


def optimum_cli() -> str:
    return str(Path(sys.executable).with_name("optimum-cli"))


# `optimum-cli onnxruntime optimize -O2/-O3`: ONNX Runtime's transformer fusions (O3: GELU approximated)
OPTIMIZE_LEVELS = ("O2", "O3")


def export_optimum(checkpoint: Path, folder: Path, precision: str, sha256: str | None,
                   optimize: str | None = None) -> Path:
    """optimum's export of `checkpoint` into `folder` (then int8 quantization, or with `optimize`
    its graph optimizer at that level), reused when made from the same weights; returns the .onnx file."""
    stamp = folder / MADE_FROM
    made = {"sha256": sha256, "precision": precision, **({"optimize": optimize} if optimize else {})}
    if stamp.is_file() and json.loads(stamp.read_text()) == made and sha256:
        return next(p for p in folder.glob("*.onnx"))
    if optimize not in (None, *OPTIMIZE_LEVELS):
        raise ValueError(f"unknown optimum level '{optimize}'; known: {', '.join(OPTIMIZE_LEVELS)}")
    shutil.rmtree(folder, ignore_errors=True)
    run = lambda *args: subprocess.run([optimum_cli(), *args], check=True, capture_output=True, text=True)  # noqa: E731
    try:
        if precision == "int8" or optimize:  # from the plain fp32 export, made once per weights
            fp32 = export_optimum(checkpoint, folder.parent / SOURCE, "fp32", sha256).parent
        else:
            run("export", "onnx", "--model", str(checkpoint), "--task", "image-classification", str(folder))
        if precision == "int8":
            run("onnxruntime", "quantize", "--onnx_model", str(fp32), "--avx2", "-o", str(folder))
        elif optimize:
            run("onnxruntime", "optimize", "--onnx_model", str(fp32), f"-{optimize}", "-o", str(folder))
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"optimum-cli failed: {(e.stderr or '').strip().splitlines()[-1:]}") from e
    stamp.write_text(json.dumps(made))
    return next(p for p in folder.glob("*.onnx"))


RUNTIMES = ("onnx", "openvino")  # runtime backends an optimum graph can run on


def _onnxruntime_logits(model: Path, threads: int):
    from runtime.onnx import session as onnx_session

    session = onnx_session(model, threads)
    name = session.get_inputs()[0].name
    return lambda pixels: session.run(None, {name: pixels})[0]


def _openvino_logits(model: Path, threads: int):
    from runtime.openvino import compile_onnx

    request = compile_onnx(model, threads).create_infer_request()
    return lambda pixels: request.infer([pixels])[0]


class OptimumRunner:
    """optimum's graph on ONNX Runtime (or OpenVINO, `runtime`): uint8 images normalised in numpy
    as its processor says."""

    reference = False

    def __init__(self, model: Path, mean, std, threads: int = 0, runtime: str = "onnx"):
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime '{runtime}' for optimum's graph; known: {', '.join(RUNTIMES)}")
        self.logits = {"onnx": _onnxruntime_logits, "openvino": _openvino_logits}[runtime](model, threads)
        self.mean = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
        self.model_file = model

    @staticmethod
    def normalise(images: np.ndarray, mean, std) -> np.ndarray:
        """uint8 `(N, H, W, 3)` -> the `(N, 3, H, W)` float32 pixels optimum's graph takes."""
        mean, std = (np.asarray(v, np.float32).reshape(1, 3, 1, 1) for v in (mean, std))
        return (images.transpose(0, 3, 1, 2).astype(np.float32) / 255 - mean) / std

    def pixels(self, images: np.ndarray) -> np.ndarray:
        return self.normalise(images, self.mean, self.std)

    def run(self, images: np.ndarray, targets=None) -> dict[str, np.ndarray]:
        logits = self.logits(self.pixels(images))
        e = np.exp(logits - logits.max(-1, keepdims=True))
        return {"logits": logits, "probs": e / e.sum(-1, keepdims=True)}

    def run_batched(self, images: np.ndarray, targets=None) -> dict[str, np.ndarray]:
        parts = [self.run(images[i:i + 32]) for i in range(0, len(images), 32)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
