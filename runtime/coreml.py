"""Core ML backend: Apple's runtime on macOS; elsewhere the numpy reference executor.

Core ML *prediction* needs macOS (coremltools converts anywhere but runs models only on Apple
platforms). Off macOS this backend runs the program through `coreml_reference`, and says so in
its `label`, so parity checks and tests work on Linux CI while never passing for Apple's runtime.
"""
from __future__ import annotations

import functools
import platform
from pathlib import Path

import numpy as np

from .backend import Backend, BackendUnavailable, register_backend
from .contract import CLASSIFIER_OUTPUTS

COMPUTE_UNITS = {"cpu": "CPU_ONLY", "cpu+gpu": "CPU_AND_GPU", "cpu+ne": "CPU_AND_NE", "all": "ALL"}
LABEL_OUTPUT, PROBS_OUTPUT = CLASSIFIER_OUTPUTS  # the most likely label, label -> probability (the graph's `probs`)
ARRAY_DTYPES = {65568: "float32", 65552: "float16", 65600: "float64", 131104: "int32"}  # ArrayFeatureType values
FEATURE_DTYPES = {"stringType": "string", "dictionaryType": "dict[label, float]"}

# The model's own metadata (`MLModel.modelDescription.metadata[.creatorDefinedKey]`, all strings):
# what an app reads without the sidecar manifest. JSON where a value is a list. The Swift
# package's `ModelMetadata` reads exactly these keys; bump METADATA_SCHEMA when one changes.
METADATA_PREFIX = "explainable_vit."
METADATA_SCHEMA = "1"
IMAGE_FIT = "stretch"  # runtime.images.resize_batch: a plain resize to the model size, no crop, no letterbox
HEATMAP_MEANING = {
    "rollout": "attention rollout: how much each patch feeds the class token through all layers; "
               "class-agnostic; divided by its maximum (max 1)",
    "relevance": "gradient-weighted attention rollout for the class fed to `target` (-1: the predicted one); "
                 "divided by its maximum (max 1)",
}
HEATMAP_DISPLAY = "min-max stretched to 0..1, jet colour map, alpha 0.5 over the photo (xai.plots)"
PREVIEW_KEY = "com.apple.coreml.model.preview.type"  # Xcode's model preview: drop an image, see labels


APP_KEYS = {  # key (after METADATA_PREFIX) -> what an app reads there; app_metadata writes exactly these
    "schema": "layout version of these keys",
    "labels": "class names in output order, JSON list",
    "grid": "heatmap grid [rows, columns], JSON",
    "image_size": "model input [height, width] in pixels, JSON",
    "image_fit": "how a photo becomes the input: `stretch` = resized to the input size, no crop, no letterbox",
    "resample": "the resize filter the Python runtime uses (bilinear)",
    "heatmap_output": "output holding the heatmap: `rollout` or `relevance` (empty: none)",
    "heatmap_meaning": "what the heatmap means, in words",
    "heatmap_display": "how the pictures scale and colour it",
    "class_input": "input that picks the class to explain (`target`; empty: class-agnostic map)",
    "special_tokens": "tokens before the patches (1: CLS; 2: CLS + distillation)",
    "source_sha256": "SHA-256 of the checkpoint weights exported",
    "parity": "the export's parity check against PyTorch: passed, failed or not run",
    "toolkit_version": "explainable-vit version that exported it",
    "manifest": "the whole manifest.json, as JSON",
}


def app_metadata(manifest) -> dict[str, str]:
    """Manifest -> the flat metadata keys an app reads, plus the whole manifest as JSON under one key."""
    import json
    from dataclasses import asdict

    heatmap = manifest.heatmap_output or ""
    flat = {"schema": METADATA_SCHEMA, "labels": json.dumps(list(manifest.labels)),
            "grid": json.dumps(list(manifest.patch_grid)), "image_size": json.dumps(list(manifest.image_size)),
            "image_fit": IMAGE_FIT, "resample": manifest.preprocessing.get("resample", "bilinear"),
            "heatmap_output": heatmap, "heatmap_meaning": HEATMAP_MEANING.get(heatmap, ""),
            "heatmap_display": HEATMAP_DISPLAY, "class_input": manifest.class_input.get("name", ""),
            "special_tokens": str(manifest.n_special_tokens), "source_sha256": manifest.source.get("sha256", ""),
            "parity": manifest.parity.get("status", "not run"),
            "toolkit_version": manifest.versions.get("explainable-vit", ""),
            "manifest": json.dumps(asdict(manifest), sort_keys=True)}
    assert set(flat) == set(APP_KEYS), sorted(set(flat) ^ set(APP_KEYS))
    return {METADATA_PREFIX + k: v for k, v in flat.items()} | {PREVIEW_KEY: "imageClassifier"}


def read_model_metadata(package: str | Path) -> dict[str, str]:
    """The user-defined metadata of a saved `.mlpackage` (coremltools reads it on any OS)."""
    return dict(_spec(package).description.metadata.userDefined)


def describe_spec_outputs(spec) -> dict[str, dict]:
    """A Core ML spec's outputs as `{name: {"shape", "dtype"}}`, in the manifest's vocabulary."""
    out = {}
    for o in spec.description.output:
        kind = o.type.WhichOneof("Type")
        if kind == "multiArrayType":
            array = o.type.multiArrayType
            out[o.name] = {"shape": [int(d) for d in array.shape],
                           "dtype": ARRAY_DTYPES.get(array.dataType, str(array.dataType))}
        else:
            out[o.name] = {"shape": [] if kind == "stringType" else [None], "dtype": FEATURE_DTYPES.get(kind, kind)}
    return out


def _spec(package: str | Path):
    import coremltools as ct

    return ct.models.MLModel(str(package), skip_model_load=True).get_spec()


def apple_runtime_unavailable() -> str | None:
    """Why Apple's Core ML runtime cannot run here (None on macOS)."""
    if platform.system() == "Darwin":
        return None
    return (f"Apple's Core ML runtime needs macOS (this is {platform.system()}); "
            "the numpy reference executor runs anywhere (reference=True) but times nothing Apple runs")


@register_backend
class CoreMLBackend(Backend):
    """Apple Core ML on macOS (`compute_units` cpu, cpu+gpu, cpu+ne, all); elsewhere the numpy reference executor."""

    name = "coreml"
    formats = ("coreml",)

    def __init__(self, folder, manifest, compute_units: str = "all", reference: bool | None = None):
        super().__init__(folder, manifest)
        if compute_units not in COMPUTE_UNITS:
            raise BackendUnavailable(f"unknown compute units '{compute_units}'; known: {', '.join(COMPUTE_UNITS)}")
        unavailable = apple_runtime_unavailable()
        self.reference = unavailable is not None if reference is None else reference
        self.compute_units = compute_units
        if not self.reference and unavailable:
            raise BackendUnavailable(unavailable)
        path = str(self.folder / manifest.model_file)
        if self.reference:
            from .coreml_reference import CoreMLReferenceExecutor

            self.executor = CoreMLReferenceExecutor.load(path)
            self.label = "coreml (numpy reference executor, not Apple's runtime)"
        else:
            import coremltools as ct

            self.model = ct.models.MLModel(path, compute_units=getattr(ct.ComputeUnit, COMPUTE_UNITS[compute_units]))
            self.label = f"coreml (Apple Core ML, {compute_units})"

    @functools.cached_property
    def spec(self):
        """The package's Core ML spec, read once: every check of a load asks it something."""
        return _spec(self.folder / self.manifest.model_file)

    def describe_outputs(self) -> dict[str, dict]:
        return describe_spec_outputs(self.spec)

    def input_size(self) -> tuple[int, int] | None:
        spec = self.spec
        image = next((i.type.imageType for i in spec.description.input if i.type.WhichOneof("Type") == "imageType"), None)
        return None if image is None else (int(image.height), int(image.width))

    def describe_inputs(self) -> dict[str, dict]:
        found = {}
        for i in self.spec.description.input:
            kind = i.type.WhichOneof("Type")
            if kind == "imageType":
                found[i.name] = {"shape": [1, 3, int(i.type.imageType.height), int(i.type.imageType.width)],
                                 "dtype": "image"}
            else:
                array = i.type.multiArrayType
                found[i.name] = {"shape": [int(d) for d in array.shape],
                                 "dtype": ARRAY_DTYPES.get(array.dataType, str(array.dataType))}
        return found

    def stamped(self) -> dict:
        import json

        meta = dict(self.spec.description.metadata.userDefined)
        try:
            embedded = json.loads(meta.get(METADATA_PREFIX + "manifest", "{}"))
        except ValueError:
            return {}
        return {k: v for k, v in embedded.items() if k != "files"} if isinstance(embedded, dict) else {}

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
