"""Run exported explainable ViTs: one Predictor API over PyTorch, ONNX Runtime, OpenVINO and Core ML."""
from . import coreml as _coreml_backend  # noqa: F401  (registers; coremltools loads lazily)
from . import onnx as _onnx_backend  # noqa: F401  (registers; onnxruntime loads lazily)
from . import openvino as _openvino_backend  # noqa: F401  (registers; openvino is optional, loads lazily)
from . import torch as _torch_backend  # noqa: F401
from .backend import BACKENDS, Backend, BackendUnavailable
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint
from _infra.errors import ToolkitError

from .backend import ClassIndexError
from .images import ImageLoadError
from .manifest import ArtifactError, Manifest, ManifestError, read_manifest
from .predictor import Prediction, Predictor, load

# the errors a caller catches: every one a ToolkitError (bad input, one line), re-exported here
__all__ = ["load", "Predictor", "Prediction", "BACKENDS", "Backend", "BackendUnavailable", "Checkpoint",
           "CheckpointError", "load_checkpoint", "Manifest", "ManifestError", "ArtifactError", "ClassIndexError",
           "ImageLoadError", "ToolkitError", "read_manifest"]
