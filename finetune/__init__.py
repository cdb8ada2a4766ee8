"""Fine-tune HF image-classification ViTs (ViT, DeiT) on CIFAR-10 or your own images."""
from .config import FinetuneConfig
from .data import BUILTIN_DATA, LabeledImages, load_data
from .errors import DataSourceError, FinetuneError, ModelSourceError
from .models import SUPPORTED_MODEL_TYPES, load_model, write_preset
from .presets import PRESETS, Preset
from .train import finetune

__all__ = ["FinetuneConfig", "finetune", "load_data", "load_model", "write_preset", "PRESETS", "Preset",
           "BUILTIN_DATA", "LabeledImages", "SUPPORTED_MODEL_TYPES", "FinetuneError", "ModelSourceError",
           "DataSourceError"]
