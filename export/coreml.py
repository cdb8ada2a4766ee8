"""Core ML export: an ML program with an `ImageType` input and a classifier description.

The image input applies `pixel / 255 - mean` (ImageType has one scale for all channels); the
per-channel 1/std is folded into the patch-embedding weights. fp16 is the default, with
LayerNorm epsilons raised to an fp16-safe value; int8 is weight-only linear quantization with
coremltools' optimize API (compute stays fp16). The classifier description lets Xcode and
Vision show class labels; it needs batch 1, which is what a device feeds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ._graph import ExplainedViT, output_specs
from .config import CLASS_INPUT, ExportConfig, ExportError
from .onnx import class_input_spec

MODEL_FILE = "model.mlpackage"
INPUT_NAME = "image"
LABEL_OUTPUT = "classLabel"
PROBS_OUTPUT = LABEL_OUTPUT + "_probs"  # the classifier turns `probs` into this label -> probability dict
MINIMUM_TARGET = "iOS16"  # mlprogram with fp16 compute and ImageType inputs; iOS 16 / macOS 13


def convert(checkpoint, cfg: ExportConfig):
    """Trace the explained graph and convert it; returns (MLModel, graph)."""
    import coremltools as ct

    batch = cfg.batch or 1
    if batch != 1:
        raise ExportError("Core ML classifier models take one image per call: omit --batch or use --batch 1")
    fp16 = cfg.resolved_precision in ("fp16", "int8")
    graph = ExplainedViT(checkpoint, cfg.explain, input_kind="centred_nchw", fp16_safe=fp16).eval()
    h, w = checkpoint.image_size
    example = (torch.rand(1, 3, h, w) - 0.5,)
    image = ct.ImageType(name=INPUT_NAME, shape=(1, 3, h, w), scale=1.0 / 255.0,
                         bias=[-m for m in checkpoint.mean], color_layout=ct.colorlayout.RGB)
    inputs = [image]
    if cfg.explain == "gradrollout":
        example += (torch.tensor([-1], dtype=torch.int32),)
        inputs.append(ct.TensorType(name=CLASS_INPUT, shape=(1,), dtype=np.int32))
    with torch.no_grad():
        traced = torch.jit.trace(graph, example, strict=False)
    # Two steps: a classifier config cannot be combined with named outputs in one ct.convert
    # (coremltools 9 indexes the user's output list with the classifier's extra output), so the
    # outputs are named in a MIL program first and the classifier is added when it is lowered.
    precision = ct.precision.FLOAT16 if fp16 else ct.precision.FLOAT32  # both steps, or fp32 becomes fp16
    program = ct.convert(traced, inputs=inputs, outputs=[ct.TensorType(name=n) for n in graph.output_names()],
                         convert_to="milinternal", compute_precision=precision,
                         minimum_deployment_target=getattr(ct.target, MINIMUM_TARGET))
    program.functions["main"].set_output_types(None)  # names are in the vars now; no image outputs
    mlmodel = ct.convert(
        program, inputs=inputs,
        classifier_config=ct.ClassifierConfig(list(checkpoint.labels), predicted_feature_name=LABEL_OUTPUT,
                                              predicted_probabilities_output="probs"),
        convert_to="mlprogram", compute_precision=precision,
        minimum_deployment_target=getattr(ct.target, MINIMUM_TARGET))
    if cfg.resolved_precision == "int8":
        mlmodel = quantize_weights_int8(mlmodel)
    return mlmodel, graph


def quantize_weights_int8(mlmodel):
    """Linear symmetric per-channel int8 weights (decompressed on load by the runtime)."""
    import coremltools.optimize.coreml as cto

    config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric",
                                                                              dtype="int8", granularity="per_channel"))
    return cto.linear_quantize_weights(mlmodel, config)


def describe(mlmodel, checkpoint, cfg: ExportConfig) -> None:
    mlmodel.short_description = (f"{type(checkpoint.model).__name__} with {cfg.explain} explanation "
                                 f"({cfg.resolved_precision}), exported by explainable-vit")
    mlmodel.input_description[INPUT_NAME] = f"RGB image, {checkpoint.image_size[1]}x{checkpoint.image_size[0]}"
    mlmodel.output_description[LABEL_OUTPUT] = "most likely class"
    if cfg.explain == "gradrollout":
        mlmodel.input_description[CLASS_INPUT] = "class index to explain; -1 explains the predicted class"
        mlmodel.output_description["relevance"] = "gradient-weighted rollout over the patch grid, max 1"
    elif cfg.explain != "none":
        mlmodel.output_description["rollout"] = "attention-rollout heatmap over the patch grid, max 1"


def export_coreml(checkpoint, cfg: ExportConfig, folder: Path) -> dict:
    """Write `folder/model.mlpackage`; return the manifest's input and output facts."""
    mlmodel, graph = convert(checkpoint, cfg)
    describe(mlmodel, checkpoint, cfg)
    mlmodel.save(str(folder / MODEL_FILE))
    h, w = checkpoint.image_size
    outputs = output_specs(graph, checkpoint, batch=1)
    outputs = {PROBS_OUTPUT if n == "probs" else n: spec for n, spec in outputs.items()}
    outputs[PROBS_OUTPUT] = {"shape": [len(checkpoint.labels)], "dtype": "dict[label, float]"}
    outputs[LABEL_OUTPUT] = {"shape": [], "dtype": "string"}
    return {"model_file": MODEL_FILE, "normalisation": "ImageType scale 1/255 and bias -mean; 1/std folded "
                                                       "into the patch embedding",
            "input": {"name": INPUT_NAME, "dtype": "image", "layout": "NCHW", "color": "RGB", "shape": [1, 3, h, w],
                      "scale": 1.0 / 255.0, "bias": [-m for m in checkpoint.mean]},
            "outputs": outputs, "class_input": class_input_spec(cfg, "int32", 1), "compute_precision": "fp32" if cfg.resolved_precision == "fp32" else "fp16"}
