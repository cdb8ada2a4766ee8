"""ONNX Runtime backend: CPU execution provider, or Core ML's provider on macOS when asked."""
from __future__ import annotations

import contextlib
import json
import os

import numpy as np

from .backend import Backend, register_backend

ONNX_DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
               "tensor(int32)": "int32", "tensor(uint8)": "uint8"}
STAMP_PREFIX = "explainable_vit."  # the graph's own metadata: what it computes, checked against the manifest


def graph_stamp(precision: str, explain: str, labels: list[str]) -> dict[str, str]:
    """The metadata export writes into every ONNX graph (`onnx.ModelProto.metadata_props`, strings)."""
    return {STAMP_PREFIX + "precision": precision, STAMP_PREFIX + "explain": explain,
            STAMP_PREFIX + "labels": json.dumps(list(labels))}
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

    def describe_inputs(self) -> dict[str, dict]:
        return {i.name: {"shape": [d if isinstance(d, int) else None for d in i.shape],
                         "dtype": ONNX_DTYPES.get(i.type, i.type)} for i in self.session.get_inputs()}

    def stamped(self) -> dict:
        meta = self.session.get_modelmeta().custom_metadata_map
        found = {k[len(STAMP_PREFIX):]: v for k, v in meta.items() if k.startswith(STAMP_PREFIX)}
        with contextlib.suppress(KeyError, ValueError):
            found["labels"] = json.loads(found["labels"])
        return found

    def run(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        feed = {self.input_name: np.ascontiguousarray(images, dtype=np.uint8)}
        classes = self.class_targets(len(images), targets)
        if classes is not None:
            feed[self.manifest.class_input["name"]] = classes
        return dict(zip(self.output_names, self.session.run(None, feed)))
