"""Core ML op placement: the compute device Core ML plans for each op of a model, from
`coremltools.models.compute_plan.MLComputePlan` (Apple's runtime, macOS 14.4 or newer), summed up
as each device's share of the ops and of the estimated cost. It answers "did it run on the Neural
Engine?" before any latency is read: a `cpu+ne` row whose ops all fall back to the CPU is a CPU row.
"""
from __future__ import annotations

import platform

MIN_MACOS = (14, 4)  # MLComputePlan's first release
DEVICES = {"MLCPUComputeDevice": "cpu", "MLGPUComputeDevice": "gpu", "MLNeuralEngineComputeDevice": "neural engine"}
UNPLACED = "not reported"  # ops Core ML gives no device for (constants, for instance)


def unavailable_reason(system: str | None = None, mac_version: str | None = None) -> str | None:
    """Why no compute plan can be read here, or None where it can."""
    system = system or platform.system()
    if system != "Darwin":
        return (f"op placement needs Apple's Core ML runtime on macOS {'.'.join(map(str, MIN_MACOS))}+ "
                f"(this is {system})")
    version = mac_version if mac_version is not None else platform.mac_ver()[0]
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_MACOS:
        return f"op placement needs macOS {'.'.join(map(str, MIN_MACOS))}+ (this is macOS {version})"
    return None


def summarize(ops: list[tuple[str, str | None, float | None]]) -> dict:
    """`(op type, device class name or None, estimated cost weight or None)` per op -> per device
    `{"ops", "op_share", "cost_share"}`; shares are fractions of all ops / of the summed cost."""
    total_cost = sum(cost or 0.0 for _, _, cost in ops)
    devices: dict[str, dict] = {}
    for _, device, cost in ops:
        name = DEVICES.get(device, device) if device else UNPLACED
        entry = devices.setdefault(name, {"ops": 0, "cost": 0.0})
        entry["ops"] += 1
        entry["cost"] += cost or 0.0
    return {"ops": len(ops), "devices": {
        name: {"ops": e["ops"], "op_share": e["ops"] / len(ops),
               "cost_share": e["cost"] / total_cost if total_cost else 0.0}
        for name, e in sorted(devices.items(), key=lambda kv: -kv[1]["ops"])}}


def format_placement(rows: list[dict]) -> str:
    """A markdown section: per Core ML compute-unit row, its devices' shares, or why there are none."""
    lines = ["## Core ML op placement (MLComputePlan)", "",
             "| target | device | ops | share of ops | share of estimated cost |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        placement = row.get("placement")
        if placement is None:
            continue
        if "reason" in placement:
            lines.append(f"| {row['target']} | not available: {placement['reason']} | | | |")
            continue
        for device, d in placement["devices"].items():
            lines.append(f"| {row['target']} | {device} | {d['ops']} | {d['op_share']:.1%} | {d['cost_share']:.1%} |")
    return "\n".join(lines) + "\n"


def compute_plan_ops(compiled_model: str, compute_units: str) -> list[tuple[str, str | None, float | None]]:
    """Every op of the model's main function (nested blocks included) with its planned device and cost."""
    import coremltools as ct
    from coremltools.models.compute_plan import MLComputePlan

    plan = MLComputePlan.load_from_path(compiled_model, compute_units=getattr(ct.ComputeUnit, compute_units))
    program = plan.model_structure.program
    if program is None:
        raise ValueError("not an ML program: no per-op plan")
    ops = []
    pending = list(program.functions["main"].block.operations)
    while pending:
        op = pending.pop(0)
        usage = plan.get_compute_device_usage_for_mlprogram_operation(op)
        cost = plan.get_estimated_cost_for_mlprogram_operation(op)
        ops.append((op.operator_name, type(usage.preferred_compute_device).__name__ if usage else None,
                    cost.weight if cost else None))
        pending += [inner for block in op.blocks for inner in block.operations]
    return ops


def placement(backend) -> dict:
    """The summary for a loaded Core ML backend on Apple's runtime, or `{"reason": ...}`."""
    reason = unavailable_reason()
    if reason is None and getattr(backend, "reference", True):
        reason = "the numpy reference executor has no placement"
    if reason:
        return {"reason": reason}
    from runtime.coreml import COMPUTE_UNITS

    units = COMPUTE_UNITS[backend.compute_units]
    try:
        return summarize(compute_plan_ops(backend.model.get_compiled_model_path(), units))
    except Exception as e:  # the plan is a report column: its failure is written there, the row stays
        return {"reason": f"MLComputePlan failed: {type(e).__name__}: {e}"}
