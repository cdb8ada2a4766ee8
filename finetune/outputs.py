"""Where a run writes, decided before any work and never at the cost of a user's files.

A run writes into OUT directly when OUT is new, empty, or an unfinished run of ours being resumed
(checkpoints must stay where `--resume` finds them). Replacing a run of ours (`--overwrite`) trains
in a sibling `.OUT.partial-train` folder that replaces OUT only when the new run has finished, so a
crash leaves the old run whole. A folder this toolkit did not write is never replaced; nor is the
current folder, a parent of it, or the model or data being read (`xai.folders`).
"""
from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from xai.folders import OutputFolderError, destination_problems, folder_lock, is_empty_dir, recover

from ._safe_trainer import incomplete_checkpoints, last_complete_checkpoint
from .config import FinetuneConfig
from .errors import FinetuneError

CHECKPOINTS = "checkpoints"
RUN_MARKERS = ("run.json", "metrics.json")  # a folder holding one of these was written by finetune
PARTIAL = "partial-train"


@dataclass(frozen=True)
class OutputPlan:
    out: Path  # where the finished run ends up
    work: Path  # where it is written meanwhile: `out`, or a sibling partial folder that replaces it
    resume_from: Path | None  # the complete checkpoint to continue from

    @property
    def replaces(self) -> bool:
        return self.work != self.out


def is_run_folder(folder: Path) -> bool:
    return any((folder / name).is_file() for name in RUN_MARKERS)


def plan_output(cfg: FinetuneConfig) -> OutputPlan:
    """Decide where the run writes; every reason to refuse at once, before anything is touched."""
    out = Path(cfg.out)
    sources = [s for s in (cfg.model, cfg.data) if s and Path(s).expanduser().exists()]
    problems = destination_problems(out, sources)
    if problems:
        raise FinetuneError(*problems)
    if not out.exists() or is_empty_dir(out):
        return OutputPlan(out, out, None)
    if not is_run_folder(out):
        raise FinetuneError(f"'{out}' exists and holds files finetune did not write (no run.json): "
                            f"it is never replaced; choose another --out")
    if cfg.overwrite:
        return OutputPlan(out, out.parent / f".{out.name}.{PARTIAL}", None)
    resume = last_complete_checkpoint(out / CHECKPOINTS)
    if cfg.resume:
        return OutputPlan(out, out, resume)
    if (out / "metrics.json").is_file():
        raise FinetuneError(f"'{out}' already holds a finished run: pass --overwrite or another --out")
    if resume is not None:
        raise FinetuneError(f"'{out}' holds checkpoints of an unfinished run (last: {resume.name}): pass --resume "
                            f"to continue it or --overwrite to start again")
    return OutputPlan(out, out, None)  # a crashed run with nothing to resume never blocks a rerun


def claim_output(cfg: FinetuneConfig, held: contextlib.ExitStack) -> OutputPlan:
    """Main process, after `plan_output` accepted OUT: lock OUT for the run (`held` keeps the lock),
    undo what a killed run left, decide where to write and make that folder ready."""
    out = Path(cfg.out)
    try:
        held.enter_context(folder_lock(out))
    except OutputFolderError as e:
        raise FinetuneError(str(e)) from e
    recover(out)
    plan = plan_output(cfg)
    prepare(plan, cfg)
    return plan


def prepare(plan: OutputPlan, cfg: FinetuneConfig) -> None:
    """Make `plan.work` ready (main process, output lock held): incomplete checkpoints of ours
    removed, and a run.json that marks the folder as a run of ours."""
    if plan.replaces:  # a partial run left by a crash cannot be resumed from there: start it afresh
        shutil.rmtree(plan.work, ignore_errors=True)
    plan.work.mkdir(parents=True, exist_ok=True)
    for folder in incomplete_checkpoints(plan.work / CHECKPOINTS):
        shutil.rmtree(folder, ignore_errors=True)
    marker = plan.work / "run.json"
    if not marker.is_file():
        marker.write_text(json.dumps({"status": "started", "config": asdict(cfg)}, indent=2, default=str))
