"""Run exported explainable ViTs: one Predictor API over PyTorch, ONNX Runtime and Core ML."""
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint
from .manifest import Manifest, ManifestError, read_manifest

__all__ = ["Checkpoint", "CheckpointError", "load_checkpoint", "Manifest", "ManifestError", "read_manifest"]

from . import onnx as _onnx_backend  # noqa: E402,F401  (registers the backend; onnxruntime loads lazily)
from . import coreml as _coreml_backend  # noqa: E402,F401
