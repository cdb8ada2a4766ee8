"""ONNX export: uint8 NHWC in; logits, probs and the explanation out; dynamic batch.

Uses the TorchScript-based `torch.onnx.export` (the route optimum takes for ViTs): dynamic
batch through `dynamic_axes`, plain ONNX ops that ONNX Runtime's graph optimizer fuses
(LayerNorm, GELU, MatMul+Add) without touching the outputs the explanation needs.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ._graph import ExplainedViT, output_specs
from .config import CLASS_INPUT, ExportConfig

MODEL_FILE = "model.onnx"
INPUT_NAME = "image"


def weight_matmuls(model) -> tuple[list[str], list[str]]:
    """(MatMul nodes with a constant weight, MatMul nodes between two activations)."""
    constants = {t.name for t in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    weights, activations = [], []
    for node in model.graph.node:
        if node.op_type == "MatMul":
            (weights if node.input[1] in constants else activations).append(node.name)
    return weights, activations


def quantize_int8(path: Path) -> None:
    """Dynamic int8 quantization of the weight MatMuls only.

    Attention products (Q K^T, P V) and the rollout's vector-matrix products stay fp32: their
    both inputs are activations, and quantizing attention probabilities would blur the heatmap.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    _, activations = weight_matmuls(onnx.load(str(path)))
    tmp = path.with_name("model.fp32.onnx")
    path.rename(tmp)
    quantize_dynamic(str(tmp), str(path), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                     nodes_to_exclude=activations)
    tmp.unlink()


def convert_fp16(path: Path) -> None:
    """fp16 weights and compute with fp32 input/outputs kept (for GPU execution providers)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(path)), keep_io_types=True)
    onnx.save(model, str(path))


def export_onnx(checkpoint, cfg: ExportConfig, folder: Path) -> dict:
    """Write `folder/model.onnx`; return the manifest's input and output facts."""
    graph = ExplainedViT(checkpoint, cfg.explain, input_kind="uint8_nhwc")
    names = graph.output_names()
    h, w = checkpoint.image_size
    example = (torch.zeros(cfg.batch or 1, h, w, 3, dtype=torch.uint8),)
    inputs = [INPUT_NAME]
    if cfg.explain == "gradrollout":
        example += (torch.full((cfg.batch or 1,), -1, dtype=torch.int64),)
        inputs.append(CLASS_INPUT)
    dynamic = None if cfg.batch else {n: {0: "batch"} for n in [*inputs, *names]}
    with torch.no_grad():
        # gradrollout uses every weight twice (W in the backward, W^T in the forward): without
        # constant folding the file keeps one copy and a Transpose node, which ONNX Runtime folds
        # at load. int8 folds, so that both orientations are constant MatMul weights and quantized.
        fold = cfg.explain != "gradrollout" or cfg.resolved_precision == "int8"
        torch.onnx.export(graph, example, str(folder / MODEL_FILE), input_names=inputs,
                          output_names=names, dynamic_axes=dynamic, opset_version=cfg.opset, dynamo=False,
                          do_constant_folding=fold)
    if cfg.resolved_precision == "int8":
        quantize_int8(folder / MODEL_FILE)
    elif cfg.resolved_precision == "fp16":
        convert_fp16(folder / MODEL_FILE)
    return {"model_file": MODEL_FILE,
            "input": {"name": INPUT_NAME, "dtype": "uint8", "layout": "NHWC", "color": "RGB",
                      "shape": [cfg.batch, h, w, 3]},
            "outputs": output_specs(graph, checkpoint, cfg.batch),
            "class_input": class_input_spec(cfg, "int64", cfg.batch)}


def class_input_spec(cfg: ExportConfig, dtype: str, batch: int | None) -> dict:
    """The manifest's description of the `target` input (empty for graphs without one)."""
    if cfg.explain != "gradrollout":
        return {}
    return {"name": CLASS_INPUT, "dtype": dtype, "shape": [batch], "predicted": -1,
            "meaning": "class index to explain per image; -1 explains the predicted class"}
