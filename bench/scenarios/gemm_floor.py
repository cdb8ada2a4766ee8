"""The GEMM floor: ONNX Runtime running only the matrix products of one ViT forward, at the
model's shapes (batch 1), in one graph. No real graph of the model can be faster than its own
products, so latency / floor says how much time goes to everything else (LayerNorm, GELU,
softmax, reshapes, the explanation).

The products per layer: Q, K, V and the output projection `(N, D) @ (D, D)`; the two MLP
products `(N, D) @ (D, I)` and `(N, I) @ (I, D)`; per head `Q K^T` `(N, d) @ (d, N)` and `P V`
`(N, N) @ (N, d)`; once, the patch embedding as `(P, 3 p^2) @ (3 p^2, D)`. Activations are
chained (each product feeds the next), so ONNX Runtime cannot fold any of them at load, and
only small tensors leave the graph. int8: the same graph dynamically quantized like our int8
exports (weight products only).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

NAME = "gemm-floor"
SUMMARY = "ONNX Runtime MatMuls at a preset's shapes (batch 1): the floor every latency row is divided by"


def model_matmuls(preset) -> list[tuple[str, int, int, int, int]]:
    """(name, batch, M, K, N) of every product of one forward at batch 1."""
    grid = preset.image_size // preset.patch_size
    n, d, inner = grid * grid + 1, preset.hidden_size, preset.intermediate_size
    heads = preset.num_attention_heads
    per_layer = [("qkvo", 4, n, d, d), ("mlp_in", 1, n, d, inner), ("mlp_out", 1, n, inner, d),
                 ("scores", heads, n, d // heads, n), ("context", heads, n, n, d // heads)]
    return [("patch_embedding", 1, grid * grid, 3 * preset.patch_size ** 2, d)] + \
        [(name, count, m, k, cols) for _ in range(preset.num_hidden_layers) for name, count, m, k, cols in per_layer]


def gflop(preset) -> float:
    """Multiply-adds x 2 of one forward's products, in GFLOP."""
    return sum(2 * b * m * k * cols for _, b, m, k, cols in model_matmuls(preset)) / 1e9


def floor_graph(preset, seed: int = 0):
    """ONNX model: inputs `x (N, D)`, `heads (H, N, d)`, `k_t (H, d, N)`, `v (H, N, d)`, `patches`;
    every product of `model_matmuls` in chains of matching shapes."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    grid = preset.image_size // preset.patch_size
    n, d, inner, h = grid * grid + 1, preset.hidden_size, preset.intermediate_size, preset.num_attention_heads
    weights, nodes = [], []

    def weight(rows: int, cols: int) -> str:  # scaled so activations keep their size along the chain
        name = f"w{len(weights)}"
        weights.append(numpy_helper.from_array((rng.standard_normal((rows, cols)) / np.sqrt(rows)).astype(np.float32),
                                               name))
        return name

    def matmul(a: str, b: str) -> str:
        out = f"t{len(nodes)}"  # named nodes: int8 quantization excludes the activation products by name
        nodes.append(helper.make_node("MatMul", [a, b], [out], name=f"matmul_{len(nodes)}"))
        return out

    x, att = "x", "heads"
    for _ in range(preset.num_hidden_layers):
        for _ in range(4):
            x = matmul(x, weight(d, d))
        x = matmul(matmul(x, weight(d, inner)), weight(inner, d))
        att = matmul(matmul(att, "k_t"), "v")  # (H, N, d) @ (H, d, N) @ (H, N, d)
    embedded = matmul("patches", weight(3 * preset.patch_size ** 2, d))
    spec = lambda name, shape: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)  # noqa: E731
    inputs = [spec("x", [n, d]), spec("heads", [h, n, d // h]), spec("k_t", [h, d // h, n]),
              spec("v", [h, n, d // h]), spec("patches", [grid * grid, 3 * preset.patch_size ** 2])]
    graph = helper.make_graph(nodes, "gemm_floor", inputs, [spec(x, None), spec(att, None), spec(embedded, None)],
                              initializer=weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def floor_inputs(preset, seed: int = 1) -> dict[str, np.ndarray]:
    grid = preset.image_size // preset.patch_size
    n, d, h = grid * grid + 1, preset.hidden_size, preset.num_attention_heads
    rng = np.random.default_rng(seed)
    shapes = {"x": (n, d), "heads": (h, n, d // h), "k_t": (h, d // h, n), "v": (h, n, d // h),
              "patches": (grid * grid, 3 * preset.patch_size ** 2)}
    scale = {"k_t": 1 / np.sqrt(d // h), "v": 1 / np.sqrt(n)}  # keeps the attention chain bounded
    return {k: (rng.standard_normal(s) * scale.get(k, 1.0)).astype(np.float32) for k, s in shapes.items()}


def write_floor(preset, folder: Path, precision: str) -> Path:
    """The floor graph as `folder/floor-PRECISION.onnx` (int8: dynamically quantized weights)."""
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"floor-{precision}.onnx"
    onnx.save(floor_graph(preset), str(path))
    if precision == "int8":
        from export.onnx import quantize_int8

        quantize_int8(path)
    return path


def floor_runner(preset, folder: Path, precision: str, threads: int):
    """(no-argument callable running the floor graph once on ONNX Runtime, the graph's path)."""
    from runtime.onnx import session as onnx_session

    path = write_floor(preset, folder, precision)
    session = onnx_session(path, threads)
    feed = floor_inputs(preset)
    return (lambda: session.run(None, feed)), path


def columns() -> list[dict]:
    from . import column

    return [column("graph"), column("p50_ms", "p50", "ms", 3), column("p90_ms", "p90", "ms", 3),
            column("gflop", "GFLOP", digits=3), column("gflop_per_s", "GFLOP/s", digits=1)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from finetune.presets import PRESETS

    parser.add_argument("--preset", default="deit-tiny", choices=list(PRESETS))
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--work", default="bench-work/gemm-floor", help="folder for the floor graphs")


def run(args) -> dict:
    from finetune.presets import PRESETS

    from ..timing import interleaved_latency
    from . import shaped

    preset = PRESETS[args.preset]
    runners = {p: floor_runner(preset, Path(args.work), p, args.threads)[0] for p in ("fp32", "int8")}
    times = interleaved_latency(runners, rounds=args.rounds, iters=args.iters, warmup=3)
    work = gflop(preset)
    rows = [{"graph": f"gemm floor {p}", "precision": p, "p50_ms": round(t["p50"], 3), "p90_ms": round(t["p90"], 3),
             "gflop": round(work, 3), "gflop_per_s": round(work / (t["p50"] / 1e3), 1)} for p, t in times.items()]
    header = {"preset": args.preset, "threads": args.threads, "batch": 1, "rounds": args.rounds, "iters": args.iters,
              "products": sum(b for _, b, *_ in model_matmuls(preset))}
    return shaped(header, rows, columns())
