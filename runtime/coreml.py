"""Core ML backend: Apple's runtime on macOS; elsewhere the numpy reference executor.

Core ML *prediction* needs macOS (coremltools converts anywhere but runs models only on Apple
platforms). Off macOS this backend runs the program through `coreml_reference`, and says so in
its `label`, so parity checks and tests work on Linux CI while never passing for Apple's runtime.
"""
from __future__ import annotations

import platform

import numpy as np

from .backend import Backend, BackendUnavailable, register_backend

COMPUTE_UNITS = {"cpu": "CPU_ONLY", "cpu+gpu": "CPU_AND_GPU", "cpu+ne": "CPU_AND_NE", "all": "ALL"}
LABEL_OUTPUT = "classLabel"
PROBS_OUTPUT = "classLabel_probs"


@register_backend
class CoreMLBackend(Backend):
    """Apple Core ML on macOS (`compute_units` cpu, cpu+gpu, cpu+ne, all); elsewhere the numpy reference executor."""

    name = "coreml"
    formats = ("coreml",)

    def __init__(self, folder, manifest, compute_units: str = "all", reference: bool | None = None):
        super().__init__(folder, manifest)
        if compute_units not in COMPUTE_UNITS:
            raise ValueError(f"unknown compute units '{compute_units}'; known: {', '.join(COMPUTE_UNITS)}")
        on_mac = platform.system() == "Darwin"
        self.reference = not on_mac if reference is None else reference
        if not self.reference and not on_mac:
            raise BackendUnavailable(f"Apple's Core ML runtime needs macOS (this is {platform.system()}); "
                                     "the numpy reference executor runs anywhere (reference=True)")
        path = str(self.folder / manifest.model_file)
        if self.reference:
            from .coreml_reference import CoreMLReferenceExecutor

            self.executor = CoreMLReferenceExecutor.load(path)
            self.label = "coreml (numpy reference executor, not Apple's runtime)"
        else:
            import coremltools as ct

            self.model = ct.models.MLModel(path, compute_units=getattr(ct.ComputeUnit, COMPUTE_UNITS[compute_units]))
            self.label = f"coreml (Apple Core ML, {compute_units})"

    def _predict_one(self, image: np.ndarray, target: np.ndarray | None) -> dict:
        name = self.manifest.input["name"]
        extra = {} if target is None else {self.manifest.class_input["name"]: target.reshape(1)}
        if self.reference:  # the program applies the ImageType's scale and bias itself
            return self.executor.run({name: image.transpose(2, 0, 1)[None].astype(np.float32), **extra})
        from PIL import Image

        return self.model.predict({name: Image.fromarray(image), **extra})

    def run(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        classes = self.class_targets(len(images), targets)
        results = [self._predict_one(image, None if classes is None else classes[i]) for i, image in enumerate(images)]
        out = {name: np.concatenate([np.asarray(r[name], dtype=np.float32) for r in results])
               for name in results[0] if name not in (PROBS_OUTPUT, LABEL_OUTPUT)}
        out["probs"] = np.array([[r[PROBS_OUTPUT][label] for label in self.manifest.labels] for r in results],
                                dtype=np.float32)
        return out
