"""`--compile auto|off|train|all`: torch.compile the model once, and count what torch compiled.

What makes a ViT under the Trainer compile more than once, and what is done about it:
- its loss sets `config.problem_type` at the first call, and dynamo guards on that attribute
  (a recompile at step 2): it is set before compiling;
- the last, smaller batch of an epoch is another shape (a recompile into a dynamic-shape graph):
  in training each epoch's shuffled tail is dropped (`dataloader_drop_last` for the training loader
  only, in `SafeTrainer`); a compiled evaluation pads its last batch instead
  (labels -100, which the loss ignores) and discards the padding's outputs;
- evaluation runs in eval mode without gradients, which is another graph: with `train` it runs
  eager (`torch.compiler.set_stance("force_eager")`), with `all` it is compiled once.
The model is compiled in place (`nn.Module.compile`), once, so every epoch and every evaluation
calls the same compiled code, under DDP too. Inductor keeps compiled graphs in its on-disk caches
(FX graph and AOTAutograd caches, `TORCHINDUCTOR_CACHE_DIR`), so a later run on the same machine
skips code generation. torch's mega-cache (`torch.compiler.save_cache_artifacts`) is not used: its
artifacts are read back with pickle, and a run folder here holds no pickles.

`CompileLog` reads torch's own counters (`torch._dynamo.utils.counters`) and compilation metrics
(with dynamo's recompile reasons) and attributes them to the phase that was running.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch

from .config import COMPILE  # noqa: F401  (the registry, kept light for the CLI)

# What `auto` picks per device kind, and the measurement that decided it (docs/finetune-gpu.md).
AUTO = {
    "cpu": ("off", "on the CPU, compiling cifar-tiny's training step took 170 s, longer than its whole eager "
                   "training phase (16 s from a warm cache, for no faster steps; docs/finetune-gpu.md)"),
    "cuda": ("off", "on CUDA, the 3-epoch DeiT-tiny recipe measured 48 s eager against 130 s compiled (H200); "
                    "compile-once is not measured there yet"),
    "mps": ("off", "not measured on mps"),
}
REASON_CHARS = 300  # a recompile reason is kept to its first line, at most this long


@dataclass(frozen=True)
class CompileChoice:
    """`--compile` resolved: `chosen` is off, train or all; `why` says how `auto` decided."""

    asked: str
    chosen: str
    why: str = ""

    @property
    def training(self) -> bool:
        return self.chosen in ("train", "all")

    @property
    def evaluation(self) -> bool:
        return self.chosen == "all"


def choose_compile(asked: str, device: str) -> CompileChoice:
    """`--compile` value + device kind (cpu, cuda, mps) -> what this run compiles."""
    if asked != "auto":
        return CompileChoice(asked, asked, "asked for")
    chosen, why = AUTO.get(device, ("off", f"not measured on {device}"))
    return CompileChoice(asked, chosen, why)


def compile_model(model: torch.nn.Module, choice: CompileChoice) -> None:
    """Compile `model` in place (when `choice` compiles anything), with no attribute the first
    step would change. torch's default backend (inductor) is used."""
    if not choice.training:
        return
    # A clean dynamo state, as in a fresh process: code compiled earlier in this process (another
    # model, the throughput benchmark's ceiling) would count against this model's recompile limit.
    torch._dynamo.reset()
    if getattr(model.config, "problem_type", "") is None:  # labels are class indices here
        model.config.problem_type = "single_label_classification"
    model.compile(dynamic=False)  # one shape per phase: a change is a recompile we count, not a dynamic graph


def pad_batch(inputs: dict, size: int) -> tuple[dict, int]:
    """A batch of B < `size` items padded with zero images and -100 labels to `size` -> (batch, B)."""
    n = len(inputs["pixel_values"])
    if n >= size:
        return inputs, n
    padded = {}
    for key, value in inputs.items():
        fill = torch.full((size - n, *value.shape[1:]), -100 if key == "labels" else 0, dtype=value.dtype,
                          device=value.device)
        padded[key] = torch.cat([value, fill])
    return padded, n


# ---------------------------------------------------------------------------------- counting
def _counters() -> dict[str, int]:
    """torch's cumulative compile counters that `CompileLog` reports (per process)."""
    from torch._dynamo.utils import counters

    return {"graphs": counters["stats"]["unique_graphs"], "frames": counters["frames"]["total"],
            "graph_breaks": sum(counters["graph_break"].values()),
            "fx_graph_cache_hits": counters["inductor"]["fxgraph_cache_hit"],
            "fx_graph_cache_misses": counters["inductor"]["fxgraph_cache_miss"],
            "aot_autograd_cache_hits": counters["aot_autograd"]["autograd_cache_hit"],
            "aot_autograd_cache_misses": counters["aot_autograd"]["autograd_cache_miss"]}


def _metrics() -> list:
    from torch._dynamo.utils import get_compilation_metrics

    return get_compilation_metrics()  # dynamo keeps the last 64 compilations


def _reason(text: str) -> str:
    return text.split("\n", 1)[0].strip()[:REASON_CHARS]


class CompileLog:
    """What torch compiled during each phase (`with log.phase("train"): ...`; phases may nest: the
    outer one pauses). `phases[name]`: graphs, recompiles, their reasons, compile seconds, frames,
    graph breaks and inductor/AOTAutograd cache hits and misses, summed over the phase's spans."""

    def __init__(self):
        self.phases: dict[str, dict] = {}
        self._stack: list[str] = []
        self._mark: tuple[dict[str, int], set[int]] | None = None

    @contextlib.contextmanager
    def phase(self, name: str):
        self._close_span()
        self._stack.append(name)
        self._open_span()
        try:
            yield
        finally:
            self._close_span()
            self._stack.pop()
            self._open_span()

    def _open_span(self) -> None:
        self._mark = (_counters(), {id(m) for m in _metrics()}) if self._stack else None

    def _close_span(self) -> None:
        if self._mark is None:
            return
        (before, seen), now = self._mark, _counters()
        new = [m for m in _metrics() if id(m) not in seen]
        entry = self.phases.setdefault(self._stack[-1], {"graphs": 0, "recompiles": 0, "recompile_reasons": [],
                                                         "compile_s": 0.0, **{k: 0 for k in now if k != "graphs"}})
        for key in now:
            entry[key] += now[key] - before[key]
        reasons = [_reason(m.recompile_reason) for m in new if m.recompile_reason]
        entry["recompiles"] += len(reasons)
        entry["recompile_reasons"] += reasons
        entry["compile_s"] = round(entry["compile_s"] + sum((m.duration_us or 0) for m in new) / 1e6, 3)
        self._mark = None

    def summary(self) -> dict:
        """`phases`, plus where inductor keeps its caches."""
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir

        return {"phases": self.phases,
                "inductor_cache_dir": os.environ.get("TORCHINDUCTOR_CACHE_DIR") or default_cache_dir()}


@contextlib.contextmanager
def evaluation_stance(choice: CompileChoice):
    """Evaluation runs eager unless `choice` compiles it (the compiled model stays compiled)."""
    if choice.training and not choice.evaluation:
        with torch.compiler.set_stance("force_eager"):
            yield
    else:
        yield

