"""ONNX export: uint8 NHWC in; logits, probs and the explanation out; dynamic batch.

Uses the TorchScript-based `torch.onnx.export` (the route optimum takes for ViTs): dynamic
batch through `dynamic_axes`, plain ONNX ops that ONNX Runtime's graph optimizer fuses
(LayerNorm, 2-D MatMul+Add into Gemm) without touching the outputs the explanation needs; the
forward is traced from `_forward.PackedViT` (tokens as one token-major matrix, heads as a batch axis).
Every graph passes `portability_problems` before it is written out.
"""
from __future__ import annotations

from pathlib import Path

import torch

from runtime.contract import EXPLAIN, class_input_spec, output_specs
from runtime.onnx import graph_stamp

from ._graph import ExplainedViT
from .config import CLASS_INPUT, ExportConfig, ExportError

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


INT32_LIMIT = 2 ** 31  # OpenVINO's CPU plugin holds int64 indices and shapes as int32


def _constant_values(model, names: set[str] | None = None) -> dict:
    """Name -> numpy array of every initializer and Constant node output (of those in `names`)."""
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer if names is None or t.name in names}
    for node in model.graph.node:
        if (node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value"
                and (names is None or node.output[0] in names)):
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def int64_sentinels(model) -> list[str]:
    """int64 constants outside the int32 range (e.g. INT64_MAX as an open slice end)."""
    import numpy as np

    return [f"int64 constant '{name}' holds {int(np.abs(v).max())}, outside int32 (use an explicit end)"
            for name, v in _constant_values(model).items()
            if v.dtype == np.int64 and v.size and np.abs(v).max() >= INT32_LIMIT]


def shared_weight_orientations(model) -> list[str]:
    """Constant weights read by MatMul/Gemm both as stored and transposed. OpenVINO 2026.4's CPU
    plugin computes one of the two with the other's orientation when the weight is square (its
    prepared weights are cached per constant), so every orientation gets a constant of its own."""
    producer = {o: n for n in model.graph.node for o in n.output}
    constants = _constant_values(model)
    seen: dict[str, set] = {}
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2:
            continue
        name, flips = node.input[1], 0
        if node.op_type == "Gemm":
            flips = next((a.i for a in node.attribute if a.name == "transB"), 0)
        while name in producer and producer[name].op_type in ("Transpose", "Identity"):
            flips += producer[name].op_type == "Transpose"
            name = producer[name].input[0]
        if name in constants:
            seen.setdefault(name, set()).add(flips % 2)
    return [f"weight '{name}' is read by MatMul/Gemm both as stored and transposed" for name, ways in seen.items()
            if len(ways) == 2]


def fold_reshape_chains(model) -> int:
    """Reshape(Reshape(x, a), b) -> Reshape(x, b), in place, where b is a constant without 0 (a 0
    copies a dimension of the input, which x may not share); an inner Reshape nothing else reads is
    dropped, and so is every constant left unread (ONNX Runtime warns about each at load). Returns
    how many were folded. Tracing records every view, and ONNX Runtime runs each Reshape as its own
    node (no copy, but its dispatch)."""
    shapes = {n.input[1] for n in model.graph.node if n.op_type == "Reshape"}
    values = _constant_values(model, shapes)
    producer = {o: n for n in model.graph.node for o in n.output}
    folded = 0
    for node in model.graph.node:  # topological order: a chain folds from its start
        inner = producer.get(node.input[0]) if node.op_type == "Reshape" else None
        shape = values.get(node.input[1]) if inner is not None else None
        if inner is not None and inner.op_type == "Reshape" and shape is not None and not (shape == 0).any():
            node.input[0], folded = inner.input[0], folded + 1
    while True:  # drop the Reshapes left unread (a chain's inner ones, last first), then their shapes
        read = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
        dead = [n for n in model.graph.node if n.op_type in ("Reshape", "Constant") and n.output[0] not in read]
        if not dead:
            break
        for node in dead:
            model.graph.node.remove(node)
    unread = [t for t in model.graph.initializer if t.name not in read]  # ONNX Runtime warns about each
    for tensor in unread:
        model.graph.initializer.remove(tensor)
    return folded


def portability_problems(model) -> list[str]:
    """Constructs conformant runtimes are known to compute differently; empty when there are none."""
    return int64_sentinels(model) + shared_weight_orientations(model)


def quantize_int8(path: Path) -> None:
    """Dynamic int8 quantization of the weight MatMuls only.

    Attention products (Q K^T, P V), the head means and the rollout's vector-matrix products stay
    fp32: each has an activation as its second input, and quantizing attention probabilities would
    blur the heatmap.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    reference = onnx.load(str(path))
    _, activations = weight_matmuls(reference)
    tmp = path.with_name("model.fp32.onnx")
    path.rename(tmp)
    quantize_dynamic(str(tmp), str(path), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                     nodes_to_exclude=activations)
    tmp.unlink()
    quantized = onnx.load(str(path))
    order_nodes_like(quantized, reference)
    onnx.save(quantized, str(path))


def order_nodes_like(model, reference) -> None:
    """Re-sort `model`'s nodes, in place, topologically and as close to `reference`'s order as the
    edges allow: a node writing a tensor `reference` has takes its producer's position, a node a
    rewrite added (quantization's scales, casts, integer products) the lowest position among the
    nodes it feeds. ONNX Runtime derives its execution order from node positions (a depth-first
    walk back from the outputs visiting a node's latest-defined input first), and
    onnxruntime.quantization re-sorts the nodes breadth-first: the rollout's head means, which the
    trace defines late so that each runs right after its softmax, moved to the end of the run."""
    import heapq

    position = {o: i for i, n in enumerate(reference.graph.node) for o in n.output}
    nodes = list(model.graph.node)
    producer = {o: i for i, n in enumerate(nodes) for o in n.output}
    feeds = [sorted({producer[x] for x in n.input if x in producer}) for n in nodes]
    consumers: list[list[int]] = [[] for _ in nodes]
    for i, inputs in enumerate(feeds):
        for j in inputs:
            consumers[j].append(i)
    key = [len(reference.graph.node)] * len(nodes)
    for i in reversed(range(len(nodes))):  # consumers first: the list is topological
        own = [position[o] for o in nodes[i].output if o in position]
        key[i] = min(own or [key[j] for j in consumers[i]] or [key[i]])
    waiting = [len(inputs) for inputs in feeds]
    ready = [(key[i], i) for i in range(len(nodes)) if not waiting[i]]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, i = heapq.heappop(ready)
        ordered.append(nodes[i])
        for j in consumers[i]:
            waiting[j] -= 1
            if not waiting[j]:
                heapq.heappush(ready, (key[j], j))
    del model.graph.node[:]
    model.graph.node.extend(ordered)


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
    if EXPLAIN[cfg.explain].class_input:
        example += (torch.full((cfg.batch or 1,), -1, dtype=torch.int64),)
        inputs.append(CLASS_INPUT)
    dynamic = None if cfg.batch else {n: {0: "batch"} for n in [*inputs, *names]}
    with torch.no_grad():
        # Constants folded: gradrollout uses every weight twice (W^T in the forward, W in the
        # backward), and folding stores each orientation as its own constant. One shared square
        # initializer read both ways is computed wrongly by OpenVINO's CPU plugin (see
        # `shared_weight_orientations`); the file grows by the backward's copy, ONNX Runtime held
        # both copies in memory anyway (it folds the Transpose at load).
        torch.onnx.export(graph, example, str(folder / MODEL_FILE), input_names=inputs,
                          output_names=names, dynamic_axes=dynamic, opset_version=cfg.opset, dynamo=False,
                          do_constant_folding=True)
    finish_graph(folder / MODEL_FILE, graph_stamp(cfg.resolved_precision, cfg.explain, checkpoint.labels))
    if cfg.resolved_precision == "int8":
        quantize_int8(folder / MODEL_FILE)
    elif cfg.resolved_precision == "fp16":
        convert_fp16(folder / MODEL_FILE)
    return {"model_file": MODEL_FILE,
            "input": {"name": INPUT_NAME, "dtype": "uint8", "layout": "NHWC", "color": "RGB",
                      "shape": [cfg.batch, h, w, 3]},
            "outputs": output_specs(cfg.explain, checkpoint, cfg.batch),
            "class_input": class_input_spec(cfg.explain, "int64", cfg.batch)}


def finish_graph(path: Path, stamp: dict[str, str]) -> None:
    """The written graph, read once: Reshape chains folded (`fold_reshape_chains`), `stamp` written
    into its metadata (what it is, for the runtime to check a manifest against: quantization and
    fp16 conversion keep it), then an ExportError listing every construct of `portability_problems`."""
    import onnx

    model = onnx.load(str(path))
    fold_reshape_chains(model)
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, **stamp})
    onnx.save(model, str(path))
    problems = portability_problems(model)
    if problems:
        raise ExportError("the graph is not portable across ONNX runtimes: " + "; ".join(problems))
