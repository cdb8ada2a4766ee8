"""ONNX Runtime backend: CPU execution provider, or Core ML's provider on macOS when asked."""
from __future__ import annotations

import os

import numpy as np

from .backend import Backend, register_backend

DEFAULT_THREADS = int(os.environ.get("EXPLAINABLE_VIT_THREADS", "0"))  # 0: ONNX Runtime decides


@register_backend
class OnnxBackend(Backend):
    """ONNX Runtime, CPU execution provider (pass `providers` for another, e.g. CoreMLExecutionProvider on macOS)."""

    name = "onnx"
    formats = ("onnx",)

    def __init__(self, folder, manifest, providers: list[str] | None = None, threads: int = DEFAULT_THREADS):
        import onnxruntime as ort

        super().__init__(folder, manifest)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.folder / manifest.model_file), options,
                                            providers=providers or ["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def output_shapes(self) -> dict[str, list]:
        """Output name -> shape, None (or a symbol) for a dynamic dimension."""
        return {o.name: o.shape for o in self.session.get_outputs()}

    def run(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        feed = {self.input_name: np.ascontiguousarray(images, dtype=np.uint8)}
        classes = self.class_targets(len(images), targets)
        if classes is not None:
            feed[self.manifest.class_input["name"]] = classes
        return dict(zip(self.output_names, self.session.run(None, feed)))
