"""Export ViT/DeiT classifiers to ONNX and Core ML graphs that output their own explanation."""
from .api import EXPORTERS, export_model
from .config import EXPLAIN_KINDS, PRECISIONS, ExportConfig, ExportError
from .parity import TOLERANCES, ParityError
from _infra.errors import ToolkitError

__all__ = ["export_model", "ExportConfig", "ExportError", "ParityError", "ToolkitError", "EXPORTERS", "PRECISIONS",
           "EXPLAIN_KINDS", "TOLERANCES"]
