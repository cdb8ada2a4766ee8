"""The numpy Core ML executor: each op against an independent reference, coverage of every op
our exports use, fp16 emulation that catches fp16-unsafe graphs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import save_tiny_checkpoint

from export import ExportConfig, ParityError, export_model
from runtime.coreml_reference import OPS, SPECIAL_OPS, CoreMLReferenceExecutor, UnsupportedOpError

RNG = np.random.default_rng(0)
A = RNG.normal(size=(2, 3, 4)).astype(np.float32)
B = RNG.normal(size=(2, 3, 4)).astype(np.float32)
T = torch.from_numpy


def run_op(build, *inputs, dtype=np.float32):
    """Build a one-op MIL program over `inputs` and run it through the executor."""
    from coremltools.converters.mil import Builder as mb
    from coremltools.converters.mil.mil import types

    mil_type = types.fp16 if dtype == np.float16 else types.fp32
    specs = [mb.TensorSpec(shape=x.shape, dtype=mil_type) for x in inputs]

    target = __import__("coremltools").target.iOS16
    if len(inputs) == 1:
        prog = mb.program(input_specs=specs, opset_version=target)(lambda x: build(mb, x))
    else:
        prog = mb.program(input_specs=specs, opset_version=target)(lambda x, y: build(mb, x, y))

    executor = CoreMLReferenceExecutor(prog)
    names = list(executor.function.inputs)
    out = executor.run({n: x for n, x in zip(names, inputs)})
    return np.asarray(next(iter(out.values())), dtype=np.float32)


W = RNG.normal(size=(5, 4)).astype(np.float32)
K = RNG.normal(size=(6, 3, 2, 2)).astype(np.float32)
IMG = RNG.normal(size=(1, 3, 8, 8)).astype(np.float32)
Q = RNG.integers(-127, 127, size=(5, 4)).astype(np.int8)

# op -> (builder, inputs, reference computed with numpy or PyTorch)
CASES = {
    "add": (lambda mb, x, y: mb.add(x=x, y=y), (A, B), lambda: A + B),
    "sub": (lambda mb, x, y: mb.sub(x=x, y=y), (A, B), lambda: A - B),
    "mul": (lambda mb, x, y: mb.mul(x=x, y=y), (A, B), lambda: A * B),
    "real_div": (lambda mb, x, y: mb.real_div(x=x, y=y), (A, B + 3), lambda: A / (B + 3)),
    "maximum": (lambda mb, x, y: mb.maximum(x=x, y=y), (A, B), lambda: np.maximum(A, B)),
    "minimum": (lambda mb, x, y: mb.minimum(x=x, y=y), (A, B), lambda: np.minimum(A, B)),
    "pow": (lambda mb, x: mb.pow(x=x, y=2.0), (A,), lambda: A ** 2),
    "sqrt": (lambda mb, x: mb.sqrt(x=x), (np.abs(A),), lambda: np.sqrt(np.abs(A))),
    "rsqrt": (lambda mb, x: mb.rsqrt(x=x), (np.abs(A) + 1,), lambda: 1 / np.sqrt(np.abs(A) + 1)),
    "exp": (lambda mb, x: mb.exp(x=x), (A,), lambda: np.exp(A)),
    "tanh": (lambda mb, x: mb.tanh(x=x), (A,), lambda: np.tanh(A)),
    "clip": (lambda mb, x: mb.clip(x=x, alpha=-0.5, beta=0.5), (A,), lambda: np.clip(A, -0.5, 0.5)),
    "cast": (lambda mb, x: mb.cast(x=x, dtype="fp16"), (A,), lambda: A.astype(np.float16)),
    "gelu": (lambda mb, x: [mb.gelu(x=x, mode=m) for m in ("EXACT", "TANH_APPROXIMATION")][0], (A,),
             lambda: torch.nn.functional.gelu(T(A)).numpy()),
    "softmax": (lambda mb, x: mb.softmax(x=x, axis=-1), (A,), lambda: torch.softmax(T(A), -1).numpy()),
    "layer_norm": (lambda mb, x: mb.layer_norm(x=x, axes=[-1], epsilon=1e-5), (A,),
                   lambda: torch.nn.functional.layer_norm(T(A), (4,), eps=1e-5).numpy()),
    "linear": (lambda mb, x: mb.linear(x=x, weight=W, bias=np.arange(5, dtype=np.float32)), (A,),
               lambda: torch.nn.functional.linear(T(A), T(W), torch.arange(5.0)).numpy()),
    "matmul": (lambda mb, x, y: mb.matmul(x=x, y=y, transpose_y=True), (A, B), lambda: A @ B.transpose(0, 2, 1)),
    "conv": (lambda mb, x: mb.conv(x=x, weight=K, strides=[2, 2], pad_type="valid"), (IMG,),
             lambda: torch.nn.functional.conv2d(T(IMG), T(K), stride=2).numpy()),
    "reshape": (lambda mb, x: mb.reshape(x=x, shape=[3, -1]), (A,), lambda: A.reshape(3, -1)),
    "transpose": (lambda mb, x: mb.transpose(x=x, perm=[2, 0, 1]), (A,), lambda: A.transpose(2, 0, 1)),
    "concat": (lambda mb, x, y: mb.concat(values=[x, y], axis=1), (A, B), lambda: np.concatenate([A, B], 1)),
    "stack": (lambda mb, x, y: mb.stack(values=[x, y], axis=0), (A, B), lambda: np.stack([A, B])),
    "slice_by_index": (lambda mb, x: mb.slice_by_index(x=x, begin=[0, 1, 0], end=[2, 3, 4], stride=[1, 1, 2],
                                                       squeeze_mask=[True, False, False]), (A,), lambda: A[0, 1:3, 0:4:2]),
    "gather": (lambda mb, x: mb.gather(x=x, indices=np.array([2, 0], np.int32), axis=1), (A,), lambda: A[:, [2, 0]]),
    "squeeze": (lambda mb, x: mb.squeeze(x=x, axes=[0]), (A[:1],), lambda: A[0]),
    "expand_dims": (lambda mb, x: mb.expand_dims(x=x, axes=[1]), (A,), lambda: A[:, None]),
    "reduce_mean": (lambda mb, x: mb.reduce_mean(x=x, axes=[1], keep_dims=True), (A,), lambda: A.mean(1, keepdims=True)),
    "reduce_max": (lambda mb, x: mb.reduce_max(x=x, axes=[1, 2]), (A,), lambda: A.max((1, 2))),
    "reduce_min": (lambda mb, x: mb.reduce_min(x=x, axes=[0]), (A,), lambda: A.min(0)),
    "reduce_sum": (lambda mb, x: mb.reduce_sum(x=x, axes=[2]), (A,), lambda: A.sum(2)),
    "reduce_prod": (lambda mb, x: mb.reduce_prod(x=x, axes=[2]), (A,), lambda: A.prod(2)),
    "erf": (lambda mb, x: mb.erf(x=x), (A,), lambda: torch.erf(T(A)).numpy()),
    "relu": (lambda mb, x: mb.relu(x=x), (A,), lambda: np.maximum(A, 0)),
    "equal": (lambda mb, x, y: mb.cast(x=mb.equal(x=x, y=y), dtype="fp32"), (A, np.where(B > 0, A, B)),
              lambda: (A == np.where(B > 0, A, B)).astype(np.float32)),
    "greater_equal": (lambda mb, x, y: mb.cast(x=mb.greater_equal(x=x, y=y), dtype="fp32"), (A, B),
                      lambda: (A >= B).astype(np.float32)),
    "select": (lambda mb, x, y: mb.select(cond=mb.greater_equal(x=x, y=0.0), a=x, b=y), (A, B),
               lambda: np.where(A >= 0, A, B)),
    "reduce_argmax": (lambda mb, x: mb.cast(x=mb.reduce_argmax(x=x, axis=-1), dtype="fp32"), (A,),
                      lambda: A.argmax(-1).astype(np.float32)),
    "constexpr_affine_dequantize": (
        lambda mb, x: mb.linear(x=x, weight=mb.constexpr_affine_dequantize(
            quantized_data=Q, zero_point=np.int8(0), scale=np.float32(0.01), axis=0)), (A,),
        lambda: A @ (Q.astype(np.float32) * 0.01).T),
}


def test_every_op_has_a_unit_test():
    assert set(CASES) == set(OPS), f"untested: {set(OPS) - set(CASES)}; stale: {set(CASES) - set(OPS)}"


@pytest.mark.parametrize("op", sorted(CASES))
def test_op_matches_reference(op):
    build, inputs, reference = CASES[op]
    np.testing.assert_allclose(run_op(build, *inputs), np.asarray(reference(), np.float32), rtol=1e-5, atol=1e-5)


def test_gelu_modes():
    from runtime.coreml_reference import gelu

    np.testing.assert_allclose(gelu(A, "TANH_APPROXIMATION"), torch.nn.functional.gelu(T(A), approximate="tanh"),
                               atol=1e-6)
    np.testing.assert_allclose(gelu(A, "SIGMOID_APPROXIMATION"), A * torch.sigmoid(1.702 * T(A)).numpy(), atol=1e-6)


def test_fp16_programs_round_every_op_to_fp16():
    big = np.full((2, 2), 300.0, np.float32)
    out = run_op(lambda mb, x, y: mb.mul(x=x, y=y), big.astype(np.float16), big.astype(np.float16), dtype=np.float16)
    assert np.isinf(out).all(), "300 * 300 overflows fp16 and must show as inf"


def test_unknown_op_is_named_with_the_supported_list():
    from coremltools.converters.mil import Builder as mb

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 2))])
    def prog(x):
        return mb.sin(x=x)

    with pytest.raises(UnsupportedOpError, match="ops sin are not supported.*supported: add"):
        CoreMLReferenceExecutor(prog)


@pytest.fixture(scope="module")
def exported_ops(tiny_vit, tmp_path_factory) -> set[str]:
    """Every op used by the Core ML exports of tiny ViT and distilled DeiT, all precisions and kinds."""
    root = tmp_path_factory.mktemp("coverage")
    deit = save_tiny_checkpoint(root / "deit", "deit", distilled=True)
    used = set()
    for name, checkpoint in (("vit", tiny_vit), ("deit", deit)):
        for precision in ("fp32", "fp16", "int8"):
            for explain in ("attentions", "none", "gradrollout"):
                out = root / f"{name}-{precision}-{explain}"
                manifest = export_model(checkpoint, out, ExportConfig(format="coreml", precision=precision,
                                                                     explain=explain, parity_images=1))
                assert manifest.parity["status"] == "passed", manifest.parity
                used |= CoreMLReferenceExecutor.load(out / manifest.model_file).ops_used()
    return used


def test_every_op_our_exports_use_is_implemented(exported_ops):
    assert exported_ops - set(OPS) - set(SPECIAL_OPS) == set()
    assert {"conv", "layer_norm", "softmax", "gelu", "classify"} <= exported_ops


def test_fp16_unsafe_graph_is_caught(tmp_path):
    """A logit past fp16's 65504 is inf on a device; the fp16 parity check must fail on it.
    (ViT's LayerNorm eps 1e-12 is no such case any more: we raise it, and coremltools' fp16 pass
    also lifts underflowing epsilons to the smallest normal fp16.)"""
    from safetensors.torch import load_file, save_file

    folder = save_tiny_checkpoint(tmp_path / "hot", "vit")
    weights = load_file(str(folder / "model.safetensors"))
    export_model(folder, tmp_path / "fine", ExportConfig(format="coreml", precision="fp16", parity_images=1))
    weights["classifier.bias"] = torch.tensor([7e4, 0.0, 0.0, 0.0])
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    export_model(folder, tmp_path / "fp32", ExportConfig(format="coreml", precision="fp32", parity_images=1))
    with pytest.raises(ParityError, match="logits: max diff .* FAIL"):
        export_model(folder, tmp_path / "unsafe", ExportConfig(format="coreml", precision="fp16", parity_images=1))
