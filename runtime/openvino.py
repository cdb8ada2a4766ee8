"""OpenVINO backend: Intel's runtime on the CPU device, reading our ONNX file directly (no
conversion step, no IR files). Optional: `pip install 'explainable-vit[openvino]'`.

Precision is pinned: on CPUs with bf16 units (AVX512-BF16, AMX) OpenVINO's CPU plugin runs fp32
models in bf16 unless told otherwise (`INFERENCE_PRECISION_HINT`), which moved a tiny model's
logits by ~1e-3; this backend asks for f32 so an fp32 artifact computes what ONNX Runtime does.
"""
from __future__ import annotations

import os
import re

import numpy as np

from .backend import Backend, BackendUnavailable, register_backend

DEFAULT_THREADS = int(os.environ.get("EXPLAINABLE_VIT_THREADS", "0"))  # 0: OpenVINO decides
INSTALL_HINT = "pip install 'explainable-vit[openvino]' (or: pip install openvino)"


OV_DTYPES = {"f32": "float32", "f16": "float16", "i64": "int64"}


def _dims(shape) -> list:
    """OpenVINO partial shape -> list, None for a dynamic dimension."""
    return [None if d.is_dynamic else d.get_length() for d in shape]


def compile_onnx(path, threads: int = DEFAULT_THREADS, precision: str = "f32"):
    """An ONNX file compiled for OpenVINO's CPU device (latency mode); BackendUnavailable without OpenVINO."""
    try:
        import openvino as ov
    except ImportError as e:
        raise BackendUnavailable(f"OpenVINO is not installed: {INSTALL_HINT}") from e
    config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    try:
        return ov.Core().compile_model(str(path), "CPU", config)
    except RuntimeError as e:  # keep OpenVINO's reason: its message starts with C++ source locations
        raise RuntimeError(reason(str(e))) from e


# the location lines OpenVINO puts before its reason ("Exception from src/inference/src/cpp/core.cpp:132:",
# "Check 'x' failed at src/frontends/onnx/frontend/src/frontend.cpp:45:")
LOCATION = re.compile(r"^(Exception from|Check .* failed at) \S+:\d+:?$")


def reason(message: str) -> str:
    """OpenVINO's error message without its leading source-location lines (the whole message when
    it has nothing else)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    kept = [line for line in lines if not LOCATION.match(line)]
    return "\n".join(kept or lines)


@register_backend
class OpenVINOBackend(Backend):
    """OpenVINO on the CPU device, fp32 inference precision, latency mode."""

    name = "openvino"
    formats = ("onnx",)

    def __init__(self, folder, manifest, threads: int = DEFAULT_THREADS, precision: str = "f32"):
        super().__init__(folder, manifest)
        self.compiled = compile_onnx(self.folder / manifest.model_file, threads, precision)
        self.request = self.compiled.create_infer_request()
        self.output_names = [self._name(o) for o in self.compiled.outputs]
        self.label = f"openvino (CPU, {precision})"

    def _name(self, port) -> str:
        """The port's name that the manifest uses (OpenVINO may hold several per tensor)."""
        names = port.get_names()
        return next((n for n in names if n in self.manifest.outputs), port.get_any_name())

    def describe_outputs(self) -> dict[str, dict]:
        return {self._name(o): {"shape": _dims(o.get_partial_shape()),
                                "dtype": OV_DTYPES.get(o.get_element_type().get_type_name(), str(o.get_element_type()))}
                for o in self.compiled.outputs}

    def input_size(self) -> tuple[int, int] | None:
        shape = _dims(self.compiled.inputs[0].get_partial_shape())  # (N, H, W, 3)
        return tuple(shape[1:3])

    def run(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        feed = {self.manifest.input["name"]: np.ascontiguousarray(images, dtype=np.uint8)}
        classes = self.class_targets(len(images), targets)
        if classes is not None:
            feed[self.manifest.class_input["name"]] = classes
        results = self.request.infer(feed)  # copies the outputs (share_outputs=False)
        return {name: results[port] for name, port in zip(self.output_names, self.compiled.outputs)}
