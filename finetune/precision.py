"""Training precision, a registry: `--precision auto|fp32|tf32|bf16|fp16`.

Each name maps onto `TrainingArguments`' own switches (`bf16`, `fp16`, `tf32`), so the autocast
and loss scaling are the Trainer's (through accelerate), not ours. Weights, optimizer state and
the saved checkpoint stay fp32 whatever the precision: autocast only lowers the matmuls.
TF32: https://pytorch.org/docs/stable/notes/cuda.html#tensorfloat-32-tf32-on-ampere-and-later-devices
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import FinetuneError

DEVICES = ("cuda", "mps", "cpu")


@dataclass(frozen=True)
class Device:
    """What the training device can do; `facts()` reads it from torch."""

    kind: str  # one of DEVICES
    bf16: bool = False  # bf16 autocast is supported (CUDA: Ampere or newer; CPU: always; mps: macOS 14+)
    tf32: bool = False  # TF32 matmuls exist (CUDA, Ampere or newer)
    name: str = ""


@dataclass(frozen=True)
class Precision:
    name: str
    summary: str
    devices: tuple[str, ...]  # where it may be asked for explicitly (auto resolves per device)
    needs: str = ""  # a Device flag that must be True as well ("bf16" or "tf32")
    requirement: str = "any device"  # said when the device lacks it


PRECISIONS: dict[str, Precision] = {p.name: p for p in (
    Precision("auto", "bf16 autocast + TF32 on a CUDA GPU with bf16, fp16 with loss scaling on older CUDA "
                      "GPUs, fp32 on the CPU and on mps", DEVICES),
    Precision("fp32", "fp32 everywhere (TF32 matmuls switched off on CUDA)", DEVICES),
    Precision("tf32", "fp32 tensors, TF32 matmuls (CUDA, Ampere or newer)", ("cuda",), needs="tf32",
              requirement="a CUDA GPU of the Ampere generation or newer"),
    Precision("bf16", "bf16 autocast (plus TF32 for what stays fp32 on CUDA); no loss scaling needed",
              DEVICES, needs="bf16",
              requirement="a CUDA GPU with bf16 (Ampere or newer), the CPU, or mps on macOS 14+"),
    Precision("fp16", "fp16 autocast with dynamic loss scaling (CUDA, mps)", ("cuda", "mps"),
              requirement="a CUDA GPU or mps"),
)}


def device_facts(use_cpu: bool = False) -> Device:
    """The device the Trainer will train on (CUDA, then mps, then the CPU) and what it supports."""
    import torch

    if not use_cpu and torch.cuda.is_available():
        major, _ = torch.cuda.get_device_capability()
        return Device("cuda", bf16=torch.cuda.is_bf16_supported(), tf32=major >= 8,
                      name=torch.cuda.get_device_name())
    if not use_cpu and torch.backends.mps.is_available():
        return Device("mps", bf16=torch.backends.mps.is_macos_or_newer(14, 0), name="mps")
    return Device("cpu", bf16=True, name="cpu")


def resolve_precision(name: str, device: Device) -> str:
    """`auto` -> the best precision `device` supports; an explicit name is checked against it."""
    if name == "auto":
        if device.kind == "cuda":
            return "bf16" if device.bf16 else "fp16"
        return "fp32"
    if name not in PRECISIONS:
        raise FinetuneError(f"--precision must be one of {', '.join(PRECISIONS)} (got '{name}')")
    p = PRECISIONS[name]
    if device.kind not in p.devices or (p.needs and not getattr(device, p.needs)):
        raise FinetuneError(f"--precision {name} needs {p.requirement}, and this run trains on "
                            f"{device.name or device.kind}: use --precision auto (here: "
                            f"{resolve_precision('auto', device)}) or fp32")
    return name


def precision_arguments(precision: str, device: Device) -> dict:
    """A resolved precision -> `TrainingArguments` keywords (`bf16`, `fp16`, `tf32`, `use_cpu`)."""
    args = {"bf16": precision == "bf16", "fp16": precision == "fp16"}
    if device.kind == "cuda" and device.tf32:
        args["tf32"] = precision in ("tf32", "bf16")  # fp32 means fp32: TF32 is switched off, not left to torch
    if device.kind == "cpu" and precision == "bf16":
        args["use_cpu"] = True  # Trainer accepts bf16 without a GPU only when told it runs on the CPU
    return args


def claim_mixed_precision(precision: str) -> None:
    """Make `precision` the one accelerate uses. TrainingArguments starts from, and writes back,
    the process-wide ACCELERATE_MIXED_PRECISION: without this, a bf16 run would leave every later
    run in the same process (tests, benchmarks, a notebook) in bf16, and `accelerate launch
    --mixed_precision` would override `--precision` unseen."""
    os.environ["ACCELERATE_MIXED_PRECISION"] = {"bf16": "bf16", "fp16": "fp16"}.get(precision, "no")
