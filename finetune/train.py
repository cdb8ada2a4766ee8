"""Fine-tune a ViT/DeiT image classifier with `transformers.Trainer`.

Works unchanged under `torchrun`/`accelerate` (one process per device; gloo on CPU).
"""
from __future__ import annotations

import contextlib
import errno
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from transformers import PrinterCallback, ProgressCallback, Trainer, TrainingArguments

from _infra.folders import make_readable, swap_in
from finetune.scores import classification_scores

from ._compat import installed_training_arguments, pil_image_processor_class
from ._safe_trainer import pickle_files
from .compilation import CompileChoice, choose_compile, compile_model
from .config import FinetuneConfig
from .data import ImageSet, load_data
from .errors import FinetuneError
from .models import load_model
from .outputs import CHECKPOINTS, OutputPlan, claim_output, kept_after_failure, plan_output
from .pipeline import Inputs, batch_inputs, choose_pipeline, loader_settings, source_size
from .precision import claim_mixed_precision, device_facts, precision_arguments, resolve_precision
from .report import RunResult, write_report

CACHE_BYTES = 2 << 30  # decoded images kept in memory when the whole split fits in this


class TorchImages(torch.utils.data.Dataset):
    """`ImageSet` -> `{"pixel_values": uint8 (3, S, S), "labels": int}`, resized, maybe augmented.

    When the decoded split fits in `CACHE_BYTES` (CIFAR-10 at 32 px: 150 MB), each image is
    decoded and resized once and kept, so later epochs skip JPEG decoding.
    """

    def __init__(self, images: ImageSet, size: int, resample: int, flip: bool, crop_padding: int = 0):
        self.images, self.size, self.resample, self.flip = images, size, Image.Resampling(resample), flip
        self.crop_padding = crop_padding
        self._cache: list | None = [None] * len(images) if len(images) * size * size * 3 <= CACHE_BYTES else None

    def __len__(self) -> int:
        return len(self.images)

    def _decoded(self, i: int) -> tuple[torch.Tensor, int]:
        if self._cache is not None and self._cache[i] is not None:
            return self._cache[i]
        image, label = self.images[i]
        if image.size != (self.size, self.size):
            image = image.resize((self.size, self.size), self.resample)
        item = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1), label
        if self._cache is not None:
            self._cache[i] = item
        return item

    def __getitem__(self, i: int) -> dict:
        x, label = self._decoded(i)
        if self.flip and torch.rand(()) < 0.5:
            x = x.flip(-1)
        if self.crop_padding:
            p = self.crop_padding
            top, left = torch.randint(0, 2 * p + 1, (2,)).tolist()
            x = torch.nn.functional.pad(x, (p, p, p, p))[:, top:top + self.size, left:left + self.size]
        return {"pixel_values": x, "labels": label}


class Normalize:
    """Collator: stack uint8 images and normalise with the processor's mean/std -> float (B, 3, S, S)."""

    def __init__(self, mean, std):
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1) * 255

    def __call__(self, batch: list[dict]) -> dict:
        x = torch.stack([b["pixel_values"] for b in batch]).float()
        return {"pixel_values": (x - self.mean) / self.std,
                "labels": torch.tensor([b["labels"] for b in batch], dtype=torch.long)}


def compute_metrics(eval_pred) -> dict:
    logits, targets = eval_pred
    logits = np.asarray(logits)
    return classification_scores(logits.argmax(-1), targets, logits.shape[-1])


def training_processor(processor, size: int):
    """A processor that states exactly the preprocessing used here: resize to SxS, normalise."""
    return pil_image_processor_class()(do_resize=True, size={"height": size, "width": size},
                             resample=int(getattr(processor, "resample", Image.Resampling.BILINEAR)),
                             image_mean=list(processor.image_mean), image_std=list(processor.image_std))


def on_main_process(args: TrainingArguments, compute):
    """`compute()` on the main process, its result (or its `FinetuneError`) on every process, so all
    processes of a torchrun launch agree on where they write, or all stop with the same error."""
    if args.world_size == 1:
        return compute()
    import torch.distributed as dist

    box = [None]
    if args.process_index == 0:
        try:
            box[0] = ("ok", compute())
        except FinetuneError as e:
            box[0] = ("error", e.problems)
    dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        raise FinetuneError(*value)
    return value


class BarsOnly(ProgressCallback):
    """Trainer's progress bars without its log dicts on the screen (they are in run.json's
    log_history and training_curves.png)."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        pass


def quiet_logs(trainer: Trainer) -> None:
    trainer.remove_callback(PrinterCallback)
    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(BarsOnly)


def resume_checkpoint(plan: OutputPlan) -> Path | None:
    if plan.resume_from is not None and pickle_files(plan.resume_from):
        raise FinetuneError(f"{plan.resume_from} holds pickle files ({', '.join(pickle_files(plan.resume_from))}): "
                            f"resuming never unpickles anything; start again with --force")
    return plan.resume_from


def cpu_processes() -> bool:
    """True when launched by torchrun/accelerate as several processes on a machine without CUDA.

    Then the run needs gloo *and* `use_cpu=True`: without the latter, accelerate sets up no
    process group, so the gradients are never averaged (each process trains its own copy on its
    shard) and the test predictions are never gathered.
    """
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def training_arguments(cfg: FinetuneConfig, work: Path, speed: dict | None = None) -> TrainingArguments:
    """`speed`: precision, data-loader and compile keywords (`run_setup`), over the CPU defaults here."""
    cpu = cpu_processes()
    save = dict(save_strategy="steps", save_steps=cfg.save_steps) if cfg.save_steps else dict(save_strategy="epoch")
    args = dict(
        output_dir=str(work / CHECKPOINTS), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.eval_batch_size,
        learning_rate=cfg.lr, weight_decay=cfg.weight_decay, warmup_ratio=cfg.warmup_ratio,
        lr_scheduler_type=cfg.scheduler, label_smoothing_factor=cfg.label_smoothing, optim="adamw_torch",
        eval_strategy="epoch", save_total_limit=2, logging_steps=cfg.logging_steps, seed=cfg.seed,
        dataloader_num_workers=cfg.num_workers or 0, remove_unused_columns=False, report_to=[],
        disable_tqdm=not cfg.progress, save_safetensors=True, ddp_find_unused_parameters=False, dataloader_pin_memory=False,
        ddp_backend="gloo" if cpu else None, use_cpu=cpu,
        average_tokens_across_devices=False,  # the loss is a per-process mean: DDP averages it as is
        **save)
    return TrainingArguments(**installed_training_arguments({**args, **(speed or {})}))


def run_setup(cfg: FinetuneConfig) -> tuple[str, dict, dict]:
    """(device kind, TrainingArguments keywords, what run.json records): precision, data loader, compile."""
    device = device_facts(use_cpu=cpu_processes())
    precision = resolve_precision(cfg.precision, device)
    claim_mixed_precision(precision)
    loader = loader_settings(device.kind, cfg.num_workers, cfg.prefetch_factor,
                             local_processes=int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    # torch_compile stays off: the model is compiled in place (`finetune.compilation`), not by accelerate,
    # whose backend choice outlives the run in the process's environment (ACCELERATE_DYNAMO_BACKEND)
    speed = {**precision_arguments(precision, device), **loader.training_arguments()}
    if device.kind == "cuda":  # one kernel for the whole AdamW update; no host sync per step for a NaN check
        speed.update(optim="adamw_torch_fused", logging_nan_inf_filter=False)
    setup = {"device": device.name or device.kind, "precision": precision,
             "compile": asdict(choose_compile(cfg.compile, device.kind)), "dataloader": asdict(loader)}
    return device.kind, speed, setup


def make_inputs(cfg: FinetuneConfig, data, processor, size: int, device: str, workers: int) -> Inputs:
    """The datasets, collator and Trainer class of the input pipeline `cfg.input_pipeline` resolves to."""
    train, test = data.train.subset(cfg.limit_train), data.test.subset(cfg.limit_test)
    source = source_size(train)
    path = choose_pipeline(cfg.input_pipeline, device, source, size, processor.resample, len(train) + len(test))
    if path == "batch":
        return batch_inputs(train, test, source, size, processor.resample, processor.image_mean,
                            processor.image_std, cfg.flip, cfg.crop_padding, workers)
    return Inputs("loader", TorchImages(train, size, processor.resample, cfg.flip, cfg.crop_padding),
                  TorchImages(test, size, processor.resample, flip=False),
                  Normalize(processor.image_mean, processor.image_std), source_size=source)


def finetune(cfg: FinetuneConfig, callbacks: Sequence = ()) -> RunResult:
    """Run one fine-tuning job end to end and write the output folder; see the README.

    callbacks: extra `TrainerCallback`s (the throughput benchmark times steps with one)."""
    if cfg.problems():
        raise FinetuneError(*cfg.problems())
    device, speed, setup = run_setup(cfg)  # before loading anything: a precision the device lacks fails here
    plan_output(cfg)  # a bad --out is refused before any work (decided again under the folder's lock)
    started = time.time()
    data = load_data(cfg.data)
    data.check(verify_images=True, progress=cfg.progress, workers=setup["dataloader"]["num_workers"])
    setup["seconds"] = {"load_and_check_data": round(time.time() - started, 2)}
    model, processor = load_model(cfg.model, data.labels, seed=cfg.seed, init=cfg.init)
    args = training_arguments(cfg, Path(cfg.out), speed)
    plan = None
    try:
        with contextlib.ExitStack() as held:
            plan = on_main_process(args, lambda: claim_output(cfg, held))
            args.output_dir = str(plan.work / CHECKPOINTS)
            result = _train(cfg, data, model, processor, args, plan, (device, setup), callbacks)
            if args.process_index == 0:
                make_readable(plan.work)  # safetensors writes 0600 files: a run is read like any output
                if plan.replaces:
                    swap_in(plan.work, plan.out)
    except KeyboardInterrupt:
        raise RunInterrupted(plan) from None
    except Exception as e:
        reason = write_failure(e)
        if reason is None or plan is None:
            raise
        raise FinetuneError(f"could not write the run into '{plan.work}': {reason}; {kept_after_failure(plan)}") from e
    result.out = plan.out
    return result


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; `plan` says where the interrupted run is (None: before it had a folder)."""

    def __init__(self, plan: OutputPlan | None):
        super().__init__()
        self.plan = plan


WRITE_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EFBIG: "a file grew past the size limit",
                errno.EDQUOT: "the disk quota is exceeded", errno.EROFS: "the file system is read-only"}
WRITE_MESSAGES = {"no space left": WRITE_ERRNOS[errno.ENOSPC], "file too large": WRITE_ERRNOS[errno.EFBIG],
                  "quota exceeded": WRITE_ERRNOS[errno.EDQUOT], "file write failed": "a file could not be written"}


def write_failure(e: BaseException) -> str | None:
    """Why writing the run failed, when `e` (or what caused it) is the disk saying no: torch and
    safetensors wrap the OSError in their own exceptions and messages. None for anything else."""
    while e is not None:
        if isinstance(e, OSError) and e.errno in WRITE_ERRNOS:
            return WRITE_ERRNOS[e.errno]
        text = str(e).lower()
        found = next((why for key, why in WRITE_MESSAGES.items() if key in text), None)
        if found:
            return found
        e = e.__cause__ or e.__context__
    return None


def _train(cfg: FinetuneConfig, data, model, processor, args: TrainingArguments, plan: OutputPlan,
           device_setup: tuple[str, dict], callbacks: Sequence) -> RunResult:
    """Train, evaluate on the test split and (main process) write the run into `plan.work`."""
    device, setup = device_setup
    size = int(model.config.image_size)
    processor = training_processor(processor, size)
    started = time.time()
    inputs = make_inputs(cfg, data, processor, size, device, setup["dataloader"]["num_workers"])
    setup.update(input_pipeline=inputs.name, source_size=inputs.source_size, model_size=size)
    setup["seconds"]["prepare_inputs"] = round(time.time() - started, 2)
    train, test = inputs.train, inputs.test
    choice = CompileChoice(**setup["compile"])
    compile_model(model, choice)
    trainer = inputs.trainer_class(model=model, args=args, train_dataset=train, eval_dataset=test,
                                   data_collator=inputs.collator, compute_metrics=compute_metrics,
                                   callbacks=list(callbacks), compile_choice=choice, **(inputs.trainer_kwargs or {}))
    quiet_logs(trainer)
    resume = resume_checkpoint(plan)
    if cfg.resume and resume is None and trainer.is_world_process_zero():
        print(f"no complete checkpoint in {plan.out / CHECKPOINTS}: starting from scratch")
    started = time.time()
    train_output = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    wall = time.time() - started
    started = time.time()
    prediction = trainer.predict(test)
    eval_seconds = time.time() - started
    setup["seconds"].update(train=round(wall, 2), evaluate=round(eval_seconds, 2))
    setup["compile"].update(trainer.compile_log.summary())  # per phase: graphs, recompiles and why
    if len(prediction.predictions) != len(test):
        raise FinetuneError(f"the test predictions cover {len(prediction.predictions)} of {len(test)} images "
                            f"(processes not gathered?): metrics would be wrong, so none are written")
    result = RunResult(cfg=asdict(cfg), labels=data.labels, data_source=data.source,
                       n_train=len(train), n_test=len(test), logits=prediction.predictions,
                       targets=prediction.label_ids, test_loss=prediction.metrics["test_loss"],
                       train_metrics=train_output.metrics, train_wall_s=wall, eval_wall_s=eval_seconds,
                       log_history=trainer.state.log_history, resumed_from=str(resume) if resume else None,
                       out=plan.work, processes=trainer.args.world_size, setup=setup)
    if trainer.is_world_process_zero():
        trainer.save_model(str(plan.work))
        processor.save_pretrained(plan.work)
        write_report(result)
    return result
