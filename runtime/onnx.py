"""ONNX Runtime backend: CPU execution provider, or Core ML's provider on macOS when asked."""
from __future__ import annotations

import os

import numpy as np

from .backend import Backend, register_backend

ONNX_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64"}
DEFAULT_THREADS = int(os.environ.get("EXPLAINABLE_VIT_THREADS", "0"))  # 0: ONNX Runtime decides


def session(path, threads: int = DEFAULT_THREADS, providers: list[str] | None = None,
            profile_prefix: str | None = None):
    """An ONNX Runtime session as every part of the toolkit opens one: all graph optimisations,
    `threads` intra-op threads (0: ONNX Runtime decides), the CPU provider unless told otherwise;
    with `profile_prefix`, ONNX Runtime's profiler on (its JSON from `session.end_profiling()`)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    if profile_prefix:
        options.enable_profiling, options.profile_file_prefix = True, profile_prefix
    return ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])


@register_backend
class OnnxBackend(Backend):
    """ONNX Runtime, CPU execution provider (pass `providers` for another, e.g. CoreMLExecutionProvider on macOS)."""

    name = "onnx"
    formats = ("onnx",)

    def __init__(self, folder, manifest, providers: list[str] | None = None, threads: int = DEFAULT_THREADS):
        super().__init__(folder, manifest)
        self.session = session(self.folder / manifest.model_file, threads, providers)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def describe_outputs(self) -> dict[str, dict]:
        return {o.name: {"shape": [d if isinstance(d, int) else None for d in o.shape],
                         "dtype": ONNX_DTYPES.get(o.type, o.type)} for o in self.session.get_outputs()}

    def input_size(self) -> tuple[int, int] | None:
        shape = self.session.get_inputs()[0].shape  # (N, H, W, 3)
        return tuple(shape[1:3])

    def run(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        feed = {self.input_name: np.ascontiguousarray(images, dtype=np.uint8)}
        classes = self.class_targets(len(images), targets)
        if classes is not None:
            feed[self.manifest.class_input["name"]] = classes
        return dict(zip(self.output_names, self.session.run(None, feed)))
