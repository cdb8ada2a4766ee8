"""A reference executor for Core ML ML programs, in numpy, for machines without Apple's runtime.

coremltools converts anywhere but predicts only on macOS. This loads a saved `.mlpackage`
back into a MIL program (coremltools' `milproto` loader, which works on any OS) and runs it op
by op with numpy. Where the program computes in fp16, every op's result is rounded to
`numpy.float16`, so fp16 drift, underflow and overflow show up here as they would on a device.
It is a checker, not a runtime: slow-ish, and not Apple's kernels (which may fuse ops and
accumulate differently), so parity through it bounds, rather than reproduces, device numerics.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from scipy.special import erf


class UnsupportedOpError(NotImplementedError):
    """The program uses an op this executor does not implement."""


def _v(op, name, default=None):
    """An op input's value: a constant from the program, or None/default when absent."""
    var = op.inputs.get(name)
    if var is None:
        return default
    return var.val if not isinstance(var, (list, tuple)) else [v.val for v in var]


def _x(env, op, name="x"):
    var = op.inputs[name]
    return env[var.name] if var.name in env else var.val


# ------------------------------------------------------------------------------- elementwise
def _binary(fn):
    return lambda env, op: fn(_x(env, op, "x"), _x(env, op, "y"))


def gelu(x: np.ndarray, mode: str = "EXACT") -> np.ndarray:
    x32 = x.astype(np.float32)
    if mode == "EXACT":
        return 0.5 * x32 * (1 + erf(x32 / np.sqrt(2)))
    if mode == "TANH_APPROXIMATION":
        return 0.5 * x32 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x32 + 0.044715 * x32 ** 3)))
    if mode == "SIGMOID_APPROXIMATION":
        return x32 / (1 + np.exp(-1.702 * x32))
    raise UnsupportedOpError(f"gelu mode {mode}")


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x.astype(np.float32) - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm(x, axes, gamma, beta, epsilon):
    x32 = x.astype(np.float32)
    axes = tuple(axes) if axes is not None else tuple(range(x.ndim))
    mean = x32.mean(axis=axes, keepdims=True)
    var = ((x32 - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x32 - mean) / np.sqrt(var + np.float32(epsilon))
    return y * (1 if gamma is None else gamma) + (0 if beta is None else beta)


# ------------------------------------------------------------------------------- linear algebra
def linear(x, weight, bias):
    y = x.astype(np.float32) @ weight.astype(np.float32).T
    return y + bias if bias is not None else y


def matmul(x, y, transpose_x=False, transpose_y=False):
    x, y = x.astype(np.float32), y.astype(np.float32)
    if transpose_x:
        x = np.swapaxes(x, -1, -2)
    if transpose_y:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


def conv2d(x, weight, bias, strides, pad_type, pad, dilations, groups):
    """NCHW convolution with groups 1 and dilation 1 (what ViT patch embeddings use)."""
    if groups not in (None, 1) or (dilations is not None and any(d != 1 for d in dilations)):
        raise UnsupportedOpError("conv with groups or dilation")
    kh, kw = weight.shape[-2:]
    sh, sw = strides if strides is not None else (1, 1)
    if pad_type == "custom":
        top, bottom, left, right = pad
    elif pad_type == "same":
        ph = max((int(np.ceil(x.shape[2] / sh)) - 1) * sh + kh - x.shape[2], 0)
        pw = max((int(np.ceil(x.shape[3] / sw)) - 1) * sw + kw - x.shape[3], 0)
        top, bottom, left, right = ph // 2, ph - ph // 2, pw // 2, pw - pw // 2
    else:  # valid
        top = bottom = left = right = 0
    x = np.pad(x.astype(np.float32), ((0, 0), (0, 0), (top, bottom), (left, right)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    y = np.einsum("nchwij,ocij->nohw", windows, weight.astype(np.float32), optimize=True)
    return y + bias.reshape(1, -1, 1, 1) if bias is not None else y


# ------------------------------------------------------------------------------- shapes
def slice_by_index(x, begin, end, stride=None, begin_mask=None, end_mask=None, squeeze_mask=None):
    index = []
    for axis in range(len(begin)):
        b = None if begin_mask is not None and begin_mask[axis] else int(begin[axis])
        e = None if end_mask is not None and end_mask[axis] else int(end[axis])
        s = 1 if stride is None else int(stride[axis])
        if squeeze_mask is not None and squeeze_mask[axis]:
            index.append(b if b is not None else 0)
            continue
        index.append(slice(b, e, s))
    return x[tuple(index)]


def reshape(x, shape):
    shape = [x.shape[i] if s == 0 else int(s) for i, s in enumerate(shape)]
    return x.reshape(shape)


def _reduce(fn):
    def run(env, op):
        axes = _v(op, "axes")
        return fn(_x(env, op).astype(np.float32), axis=None if axes is None else tuple(int(a) for a in axes),
                  keepdims=bool(_v(op, "keep_dims", False)))
    return run


def affine_dequantize(quantized, zero_point, scale, axis):
    shape = [1] * quantized.ndim
    shape[int(axis)] = -1
    zp = np.asarray(zero_point, np.float32).reshape(shape) if np.ndim(zero_point) else np.float32(zero_point)
    sc = np.asarray(scale, np.float32).reshape(shape) if np.ndim(scale) else np.float32(scale)
    return (quantized.astype(np.float32) - zp) * sc


CAST_TYPES = {"fp16": np.float16, "fp32": np.float32, "int32": np.int32, "int16": np.int16, "int8": np.int8,
              "uint8": np.uint8, "bool": np.bool_}

OPS: dict[str, Callable] = {
    "add": _binary(np.add), "sub": _binary(np.subtract), "mul": _binary(np.multiply),
    "real_div": _binary(lambda a, b: a.astype(np.float32) / b), "maximum": _binary(np.maximum),
    "minimum": _binary(np.minimum), "pow": _binary(lambda a, b: np.power(a.astype(np.float32), b)),
    "equal": _binary(np.equal), "greater_equal": _binary(np.greater_equal),
    "select": lambda env, op: np.where(_x(env, op, "cond"), _x(env, op, "a"), _x(env, op, "b")),
    "erf": lambda env, op: erf(_x(env, op).astype(np.float32)),
    "relu": lambda env, op: np.maximum(_x(env, op), 0),
    "reduce_argmax": lambda env, op: np.argmax(_x(env, op), axis=int(_v(op, "axis", -1)))[
        (...,) + ((None,) if _v(op, "keep_dims", False) else ())].astype(np.int32),
    "sqrt": lambda env, op: np.sqrt(_x(env, op).astype(np.float32)),
    "rsqrt": lambda env, op: 1 / np.sqrt(_x(env, op).astype(np.float32) + _v(op, "epsilon", 1e-12)),
    "exp": lambda env, op: np.exp(_x(env, op).astype(np.float32)),
    "tanh": lambda env, op: np.tanh(_x(env, op).astype(np.float32)),
    "clip": lambda env, op: np.clip(_x(env, op), _v(op, "alpha"), _v(op, "beta")),
    "cast": lambda env, op: _x(env, op).astype(CAST_TYPES[_v(op, "dtype")]),
    "gelu": lambda env, op: gelu(_x(env, op), _v(op, "mode", "EXACT")),
    "softmax": lambda env, op: softmax(_x(env, op), int(_v(op, "axis", -1))),
    "layer_norm": lambda env, op: layer_norm(_x(env, op), _v(op, "axes"), _v(op, "gamma"), _v(op, "beta"),
                                             _v(op, "epsilon", 1e-5)),
    "linear": lambda env, op: linear(_x(env, op), _x(env, op, "weight"),
                                     _x(env, op, "bias") if "bias" in op.inputs else None),
    "matmul": lambda env, op: matmul(_x(env, op, "x"), _x(env, op, "y"), bool(_v(op, "transpose_x", False)),
                                     bool(_v(op, "transpose_y", False))),
    "conv": lambda env, op: conv2d(_x(env, op), _x(env, op, "weight"),
                                   _x(env, op, "bias") if "bias" in op.inputs else None, _v(op, "strides"),
                                   _v(op, "pad_type", "valid"), _v(op, "pad"), _v(op, "dilations"),
                                   _v(op, "groups", 1)),
    "reshape": lambda env, op: reshape(_x(env, op), _v(op, "shape")),
    "transpose": lambda env, op: np.transpose(_x(env, op), _v(op, "perm")),
    "concat": lambda env, op: np.concatenate([env.get(v.name, v.val) for v in op.inputs["values"]],
                                             axis=int(_v(op, "axis"))),
    "stack": lambda env, op: np.stack([env.get(v.name, v.val) for v in op.inputs["values"]],
                                      axis=int(_v(op, "axis"))),
    "slice_by_index": lambda env, op: slice_by_index(_x(env, op), _v(op, "begin"), _v(op, "end"), _v(op, "stride"),
                                                     _v(op, "begin_mask"), _v(op, "end_mask"),
                                                     _v(op, "squeeze_mask")),
    "gather": lambda env, op: np.take(_x(env, op), _x(env, op, "indices").astype(np.int64),
                                      axis=int(_v(op, "axis", 0))),
    "squeeze": lambda env, op: np.squeeze(_x(env, op), axis=None if _v(op, "axes") is None
                                          else tuple(int(a) for a in _v(op, "axes"))),
    "expand_dims": lambda env, op: np.expand_dims(_x(env, op), tuple(int(a) for a in _v(op, "axes"))),
    "reduce_mean": _reduce(np.mean), "reduce_max": _reduce(np.max), "reduce_min": _reduce(np.min),
    "reduce_sum": _reduce(np.sum), "reduce_prod": _reduce(np.prod),
    "constexpr_affine_dequantize": lambda env, op: affine_dequantize(
        _v(op, "quantized_data"), _v(op, "zero_point"), _v(op, "scale"), _v(op, "axis")),
}
SPECIAL_OPS = ("const", "classify")  # handled by the executor itself


def supported_ops() -> list[str]:
    return sorted([*OPS, *SPECIAL_OPS])


class CoreMLReferenceExecutor:
    """`run({"image": float32 (1, 3, H, W) pixels 0..255}) -> {output name: value}`."""

    def __init__(self, program):
        self.program = program
        self.function = program.functions["main"]
        self.output_names = [o.name for o in self.function.outputs]
        unknown = sorted(self.ops_used() - set(OPS) - set(SPECIAL_OPS))
        if unknown:
            raise UnsupportedOpError(f"ops {', '.join(unknown)} are not supported by the Core ML reference "
                                     f"executor; supported: {', '.join(supported_ops())}")

    @classmethod
    def load(cls, package: str | Path) -> "CoreMLReferenceExecutor":
        """Read a saved `.mlpackage` back into a MIL program (works on any OS)."""
        import coremltools as ct
        from coremltools.converters.mil.frontend.milproto.load import load as load_milproto

        model = ct.models.MLModel(str(package), skip_model_load=True)
        spec = model.get_spec()
        return cls(load_milproto(spec, spec.specificationVersion, model.weights_dir))

    def ops_used(self) -> set[str]:
        return {op.op_type for op in self.function.operations}

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, object]:
        env: dict[str, object] = {}
        for name, var in self.function.inputs.items():
            env[name] = np.asarray(inputs[name]).astype(_numpy_dtype(var))
        for op in self.function.operations:
            if op.op_type == "const":
                env[op.outputs[0].name] = op.outputs[0].val
            elif op.op_type == "classify":
                probs = np.asarray(env[op.inputs["probabilities"].name], np.float32).reshape(-1)
                classes = list(op.inputs["classes"].val)
                env[op.outputs[0].name] = classes[int(probs.argmax())]
                env[op.outputs[1].name] = dict(zip(classes, probs.tolist()))
            else:
                result = OPS[op.op_type](env, op)
                env[op.outputs[0].name] = np.asarray(result).astype(_numpy_dtype(op.outputs[0]), copy=False)
        return {name: env[name] for name in self.output_names}


def _numpy_dtype(var):
    from coremltools.converters.mil.mil import types

    return types.nptype_from_builtin(var.dtype)
