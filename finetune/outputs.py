"""Where a run writes, decided before any work and never at the cost of a user's files.

A run writes into OUT directly when OUT is new, empty, or an unfinished run of ours being resumed
(checkpoints must stay where `--resume` finds them). Replacing a run of ours (`--overwrite`) trains
in a sibling `.OUT.partial-train-*` folder (made by `mkdtemp`: no one can plant it in advance) that
replaces OUT only when the new run has finished, so a crash leaves the old run whole; `--overwrite
--resume` continues the newest such folder an interrupted replacement left. A folder this toolkit
did not write is never replaced; nor is the current folder, a parent of it, the model or data
being read, or anything reached through a symbolic link (`_infra.folders`).
"""
from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from _infra.folders import (OutputFolderError, destination_problems, folder_lock, is_empty_dir, is_real_dir, links_in,
                         new_partial, recover, remove, siblings)

from ._safe_trainer import incomplete_checkpoints, last_complete_checkpoint
from .config import FinetuneConfig
from .errors import FinetuneError

CHECKPOINTS = "checkpoints"
RUN_MARKERS = ("run.json", "metrics.json")  # a folder holding one of these was written by finetune
TRAIN = "train"  # the kind of partial folder a replacing run trains in: `.OUT.partial-train-*`


@dataclass(frozen=True)
class OutputPlan:
    out: Path  # where the finished run ends up
    work: Path | None  # where it is written meanwhile: `out`, or a sibling partial folder (None: to be made)
    resume_from: Path | None  # the complete checkpoint to continue from
    replaces: bool = False  # whether `work` is a partial folder that replaces `out` at the end


def is_run_folder(folder: Path) -> bool:
    return is_real_dir(folder) and any((folder / name).is_file() for name in RUN_MARKERS)


def interrupted_replacements(out: Path) -> list[Path]:
    """The partial folders replacing runs left beside `out` (real folders of ours), newest last."""
    found = [p for p in siblings(out, f"partial-{TRAIN}") if is_run_folder(p)]
    return sorted(found, key=lambda p: os.lstat(p).st_mtime)


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
        interrupted = interrupted_replacements(out) if cfg.resume else []
        if interrupted:
            return OutputPlan(out, interrupted[-1], last_complete_checkpoint(interrupted[-1] / CHECKPOINTS), True)
        return OutputPlan(out, None, None, True)
    resume = last_complete_checkpoint(out / CHECKPOINTS)
    if cfg.resume:
        return OutputPlan(out, out, resume)
    if (out / "metrics.json").is_file():
        raise FinetuneError(f"'{out}' already holds a finished run: pass --force or another --out")
    if resume is not None:
        raise FinetuneError(f"'{out}' holds checkpoints of an unfinished run (last: {resume.name}): pass --resume "
                            f"to continue it or --force to start again")
    return OutputPlan(out, out, None)  # a crashed run with nothing to resume never blocks a rerun


def claim_output(cfg: FinetuneConfig, held: contextlib.ExitStack) -> OutputPlan:
    """Main process, after `plan_output` accepted OUT: lock OUT for the run (`held` keeps the lock),
    undo what a killed run left, decide where to write and make that folder ready."""
    out = Path(cfg.out)
    try:
        held.enter_context(folder_lock(out))
        recover(out, is_run_folder, keep=(TRAIN,))
        return prepare(plan_output(cfg), cfg)
    except OutputFolderError as e:
        raise FinetuneError(*e.problems) from None
    except OSError as e:
        raise FinetuneError(f"cannot write in '{out}': {e.strerror or e}") from None


def prepare(plan: OutputPlan, cfg: FinetuneConfig) -> OutputPlan:
    """Make the plan's work folder ready (main process, output lock held) and return the plan with
    it: other replacements' partial folders and incomplete checkpoints removed, a planted link
    refused, and a run.json that marks the folder as a run of ours."""
    if plan.replaces:
        for stale in siblings(plan.out, f"partial-{TRAIN}"):
            if stale != plan.work:
                remove(stale)
        if plan.work is None:
            plan = replace(plan, work=new_partial(plan.out, f"partial-{TRAIN}"))
    plan.work.mkdir(parents=True, exist_ok=True)
    planted = links_in(plan.work)
    if planted:
        raise FinetuneError(*[f"'{p}' is a symbolic link this toolkit did not make: a run never writes through "
                              f"one; remove it" for p in planted])
    for folder in incomplete_checkpoints(plan.work / CHECKPOINTS):
        remove(folder)
    marker = plan.work / "run.json"
    if not marker.is_file():
        marker.write_text(json.dumps({"status": "started", "config": asdict(cfg)}, indent=2, default=str))
    return plan


def kept_after_failure(plan: OutputPlan) -> str:
    """What a run that could not write still leaves, in words."""
    last = last_complete_checkpoint(plan.work / CHECKPOINTS)
    kept = f"'{plan.out}' still holds the previous run; " if plan.replaces else ""
    if last is None:
        return kept + "no complete checkpoint was written"
    return kept + f"the last complete checkpoint ({last.name}) is kept: free space, then add --resume"


def interrupted_advice(plan: OutputPlan | None, command: str) -> str:
    """What Ctrl-C leaves and the command that continues it (`command`: how this run was started)."""
    if plan is None or plan.work is None:
        return "interrupted before training started: nothing was written; run the same command again"
    checkpoint = last_complete_checkpoint(plan.work / CHECKPOINTS)
    resume = command if " --resume" in f"{command} " else f"{command} --resume"
    if plan.replaces:
        kept = f"'{plan.out}' still holds the previous run; the new run is in '{plan.work}'"
    else:
        kept = f"the run is in '{plan.out}'"
    if checkpoint is None:
        return f"interrupted: {kept}, with no complete checkpoint yet: run the same command again to start over"
    return f"interrupted: {kept} (last complete checkpoint: {checkpoint.name}); continue it with: {resume}"
