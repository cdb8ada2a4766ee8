"""Core ML export: an ML program with an `ImageType` input and a classifier description.

The image input applies `pixel / 255 - mean` (ImageType has one scale for all channels); the
per-channel 1/std is folded into the patch-embedding weights. fp16 is the default, with
LayerNorm epsilons raised to an fp16-safe value; int8 is weight-only linear quantization with
coremltools' optimize API (compute stays fp16). The classifier description lets Xcode and
Vision show class labels; it needs batch 1, which is what a device feeds.

What an app relies on (docs/apple.md): every MultiArray output is Float32 at every precision
(`outputs_to_fp32`), and the model carries its facts in its metadata (`stamp_metadata`, keys from
`runtime.coreml.APP_KEYS`) with author, licence and version from the export options.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from runtime.contract import EXPLAIN, class_input_spec, output_specs
from runtime.coreml import LABEL_OUTPUT, PROBS_OUTPUT

from ._graph import ExplainedViT
from .config import CLASS_INPUT, ExportConfig, ExportError

MODEL_FILE = "model.mlpackage"
INPUT_NAME = "image"
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
    if EXPLAIN[cfg.explain].class_input:
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
    return outputs_to_fp32(mlmodel), graph


def quantize_weights_int8(mlmodel):
    """Linear symmetric per-channel int8 weights (decompressed on load by the runtime)."""
    import coremltools.optimize.coreml as cto

    config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(mode="linear_symmetric",
                                                                              dtype="int8", granularity="per_channel"))
    return cto.linear_quantize_weights(mlmodel, config)


def outputs_to_fp32(mlmodel):
    """Every Float16 MultiArray output cast to Float32 as the program's last step (before `classify`).

    Apps read Float32 everywhere (Swift's `Float16` does not exist on Intel Macs; macOS 13's
    `MLShapedArray(converting:)` rejects Float16). Done on the saved program's protobuf: asking the
    converter for fp32 outputs adds casts that re-lowering (int8 quantization) moves behind the
    classifier op, which coremltools then refuses to serialize."""
    import coremltools as ct

    spec = mlmodel.get_spec()
    function = spec.mlProgram.functions["main"]
    block = function.block_specializations[function.opset]
    fp16 = ct.proto.MIL_pb2.DataType.Value("FLOAT16")
    names = [o.name for o in spec.description.output if o.type.WhichOneof("Type") == "multiArrayType"
             and o.type.multiArrayType.dataType == ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT16]
    if not names:
        return mlmodel
    ops = list(block.operations)
    for op in ops:
        _rename_uses(op, {n: f"{n}_fp16" for n in names})
    dtype_const = _fp32_dtype_const(ops)
    casts = [_cast_op(n, next(o for op in ops for o in op.outputs if o.name == f"{n}_fp16"), dtype_const)
             for n in names]
    tail = [op for op in ops if op.type == "classify"]  # the serializer wants `classify` last
    del block.operations[:]
    block.operations.extend([op for op in ops if op.type != "classify"] + [dtype_const] + casts + tail)
    for output in spec.description.output:
        if output.name in names:
            output.type.multiArrayType.dataType = ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
    assert all(o.type.tensorType.dataType != fp16 for c in casts for o in c.outputs)
    return ct.models.MLModel(spec, weights_dir=mlmodel.weights_dir, skip_model_load=True)


def _rename_uses(op, renames: dict[str, str]) -> None:
    """Rename the vars `op` produces and reads (its bindings), in place."""
    for output in op.outputs:
        output.name = renames.get(output.name, output.name)
    for argument in op.inputs.values():
        for binding in argument.arguments:
            if binding.WhichOneof("binding") == "name":
                binding.name = renames.get(binding.name, binding.name)


def _fp32_dtype_const(ops):
    """A `const` op holding the string "fp32", cloned from the program's own dtype constants."""
    from coremltools.proto import MIL_pb2

    template = next(op for op in ops if op.type == "const" and op.outputs[0].type.tensorType.dataType
                    == MIL_pb2.DataType.Value("STRING"))
    const = MIL_pb2.Operation()
    const.CopyFrom(template)
    const.outputs[0].name = "explainable_vit_fp32_dtype"
    const.attributes["name"].immediateValue.tensor.strings.values[:] = ["explainable_vit_fp32_dtype"]
    const.attributes["val"].immediateValue.tensor.strings.values[:] = ["fp32"]
    return const


def _cast_op(name: str, source, dtype_const):
    """`name = cast(x=source, dtype="fp32")`, as the MIL protobuf spells it."""
    from coremltools.proto import MIL_pb2

    op = MIL_pb2.Operation(type="cast")
    op.inputs["x"].arguments.add().name = source.name
    op.inputs["dtype"].arguments.add().name = dtype_const.outputs[0].name
    output = op.outputs.add()
    output.CopyFrom(source)
    output.name = name
    output.type.tensorType.dataType = MIL_pb2.DataType.Value("FLOAT32")
    op.attributes["name"].CopyFrom(dtype_const.attributes["name"])
    op.attributes["name"].immediateValue.tensor.strings.values[:] = [f"{name}_to_fp32"]
    return op


HEATMAP_DESCRIPTIONS = {"rollout": "attention-rollout heatmap over the patch grid, max 1",
                        "relevance": "gradient-weighted rollout over the patch grid, max 1"}


def describe(mlmodel, checkpoint, cfg: ExportConfig) -> None:
    mlmodel.short_description = (f"{type(checkpoint.model).__name__} with {cfg.explain} explanation "
                                 f"({cfg.resolved_precision}), exported by explainable-vit")
    mlmodel.input_description[INPUT_NAME] = f"RGB image, {checkpoint.image_size[1]}x{checkpoint.image_size[0]}"
    mlmodel.output_description[LABEL_OUTPUT] = "most likely class"
    kind = EXPLAIN[cfg.explain]
    if kind.class_input:
        mlmodel.input_description[CLASS_INPUT] = "class index to explain; -1 explains the predicted class"
    if kind.heatmap:
        mlmodel.output_description[kind.heatmap] = HEATMAP_DESCRIPTIONS[kind.heatmap]


def stamp_metadata(folder: Path, manifest, cfg: ExportConfig) -> None:
    """Write the app-facing facts (runtime.coreml.app_metadata), author, licence and version into
    the saved package, so an app needs no sidecar file."""
    import coremltools as ct

    from runtime.coreml import app_metadata

    path = folder / MODEL_FILE
    mlmodel = ct.models.MLModel(str(path), skip_model_load=True)
    mlmodel.author, mlmodel.license, mlmodel.version = cfg.author, cfg.license, cfg.version
    mlmodel.user_defined_metadata.update(app_metadata(manifest))
    staged = folder / f".stamped-{MODEL_FILE}"  # MLModel.save deletes its target first: never its own source
    mlmodel.save(str(staged))
    shutil.rmtree(path)
    staged.rename(path)


def export_coreml(checkpoint, cfg: ExportConfig, folder: Path) -> dict:
    """Write `folder/model.mlpackage`; return the manifest's input and output facts."""
    mlmodel, graph = convert(checkpoint, cfg)
    describe(mlmodel, checkpoint, cfg)
    mlmodel.save(str(folder / MODEL_FILE))
    h, w = checkpoint.image_size
    outputs = output_specs(cfg.explain, checkpoint, batch=1)
    outputs = {PROBS_OUTPUT if n == "probs" else n: spec for n, spec in outputs.items()}
    outputs[PROBS_OUTPUT] = {"shape": [len(checkpoint.labels)], "dtype": "dict[label, float]"}
    outputs[LABEL_OUTPUT] = {"shape": [], "dtype": "string"}
    return {"model_file": MODEL_FILE, "normalisation": "ImageType scale 1/255 and bias -mean; 1/std folded "
                                                       "into the patch embedding",
            "input": {"name": INPUT_NAME, "dtype": "image", "layout": "NCHW", "color": "RGB", "shape": [1, 3, h, w],
                      "scale": 1.0 / 255.0, "bias": [-m for m in checkpoint.mean]},
            "outputs": outputs, "class_input": class_input_spec(cfg.explain, "int32", 1), "compute_precision": "fp32" if cfg.resolved_precision == "fp32" else "fp16"}
