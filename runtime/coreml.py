"""Core ML backend: Apple's runtime through coremltools, on macOS only.

Core ML *prediction* needs macOS (coremltools converts anywhere but runs models only on Apple
platforms). Elsewhere this backend reports itself unavailable with the reason.
"""
from __future__ import annotations

import platform

import numpy as np

from .backend import Backend, BackendUnavailable, register_backend

COMPUTE_UNITS = {"cpu": "CPU_ONLY", "cpu+gpu": "CPU_AND_GPU", "cpu+ne": "CPU_AND_NE", "all": "ALL"}
PROBS_OUTPUT = "classLabel_probs"


@register_backend
class CoreMLBackend(Backend):
    name = "coreml"
    formats = ("coreml",)
    label = "coreml (Apple Core ML)"

    def __init__(self, folder, manifest, compute_units: str = "all"):
        super().__init__(folder, manifest)
        if platform.system() != "Darwin":
            raise BackendUnavailable(f"Core ML prediction needs macOS (this is {platform.system()}); "
                                     "the model was converted and saved, but not run here")
        if compute_units not in COMPUTE_UNITS:
            raise ValueError(f"unknown compute units '{compute_units}'; known: {', '.join(COMPUTE_UNITS)}")
        import coremltools as ct

        self.model = ct.models.MLModel(str(self.folder / manifest.model_file),
                                       compute_units=getattr(ct.ComputeUnit, COMPUTE_UNITS[compute_units]))

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        from PIL import Image

        input_name = self.manifest.input["name"]
        results = [self.model.predict({input_name: Image.fromarray(image)}) for image in images]
        out = {name: np.concatenate([np.asarray(r[name]) for r in results])
               for name in results[0] if name not in (PROBS_OUTPUT, "classLabel")}
        out["probs"] = np.array([[r[PROBS_OUTPUT][label] for label in self.manifest.labels] for r in results],
                                dtype=np.float32)
        return out
