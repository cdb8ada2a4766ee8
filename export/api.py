"""`export_model`: checkpoint -> artifact folder (model + manifest.json), checked against PyTorch.

Everything is written into a temporary sibling folder that replaces the output folder only after
the parity check passed (`_infra.folders.replacing`): a failed or killed export never leaves a half
artifact behind, and `--force` replaces only a folder that is itself an artifact.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from runtime.backend import BACKENDS, BackendUnavailable
from runtime.checkpoint import Checkpoint, load_checkpoint
from runtime.contract import EXPLAIN, FORMATS
from runtime.manifest import Manifest, is_artifact_folder, read_manifest, seal_model, write_manifest
from runtime.manifest import build_manifest as runtime_manifest
from _infra.cli import library_output
from _infra.stamps import library_versions as stamps
from _infra.folders import OutputFolderError, make_readable, replacing

from .config import ExportConfig, ExportError
from .parity import ParityError, compare, parity_images, reference_outputs



def _export_onnx(checkpoint, cfg, folder):
    from .onnx import export_onnx

    return export_onnx(checkpoint, cfg, folder)


def _export_coreml(checkpoint, cfg, folder):
    from .coreml import export_coreml

    return export_coreml(checkpoint, cfg, folder)


def _stamp_coreml(folder, manifest, cfg):
    from .coreml import stamp_metadata

    stamp_metadata(folder, manifest, cfg)


# format -> what is written into the model itself once the final manifest (parity included) is known
AFTER_PARITY: dict[str, Callable[[Path, Manifest, ExportConfig], None]] = {"coreml": _stamp_coreml}

# format (runtime.contract.FORMATS) -> its writer
EXPORTERS: dict[str, Callable[[Checkpoint, ExportConfig, Path], dict]] = {"onnx": _export_onnx, "coreml": _export_coreml}
assert set(EXPORTERS) == set(FORMATS), "every format of the contract has a writer, and only those"


def library_versions(fmt: str) -> dict:
    """The versions stamped into a manifest: the toolkit, Python, and what made and checks the format."""
    return stamps("torch", "transformers", "numpy", *FORMATS[fmt].libraries)


def build_manifest(checkpoint: Checkpoint, cfg: ExportConfig, facts: dict) -> Manifest:
    return runtime_manifest(checkpoint, cfg.format, cfg.resolved_precision, cfg.explain,
                            {**facts, "files": seal_model(facts["folder"], facts["model_file"])},
                            library_versions(cfg.format))


def check_parity(folder: Path, manifest: Manifest, checkpoint: Checkpoint, cfg: ExportConfig) -> dict:
    """Run the artifact through its runtime backend against PyTorch; 'not run' where it cannot run."""
    images = parity_images(cfg.parity_images, checkpoint.image_size)
    backend_name = FORMATS[cfg.format].backend
    try:
        backend = BACKENDS[backend_name](folder, manifest)
    except (BackendUnavailable, KeyError) as e:
        return {"status": "not run", "reason": str(e) or f"no '{backend_name}' backend on this machine"}
    reference = reference_outputs(checkpoint, images, cfg.explain)
    # class-specific maps are compared for the same class: PyTorch's prediction (a near-tie that
    # flips at fp16 would otherwise compare two different classes' maps)
    targets = reference["logits"].argmax(-1) if EXPLAIN[cfg.explain].class_input else None
    if targets is not None:
        reference = reference_outputs(checkpoint, images, cfg.explain, targets)
    exported = backend.run_batched(images, targets)
    report = compare(reference, exported, cfg.resolved_precision)
    report["backend"] = getattr(backend, "label", backend_name)
    return report


def export_model(source: str | Path, out: str | Path, cfg: ExportConfig = ExportConfig()) -> Manifest:
    """Export `source` (checkpoint folder or hub id) to `out`; returns the written manifest."""
    if cfg.problems():
        raise ExportError("; ".join(cfg.problems()))
    out = Path(out)
    sources = [source] if Path(source).exists() else []
    try:
        with replacing(out, replace=cfg.force, owned=is_artifact_folder, what="an export artifact",
                       sources=sources) as partial:
            _write_artifact(load_checkpoint(source), cfg, partial)
    except OutputFolderError as e:
        raise ExportError(str(e)) from e
    return read_manifest(out)


def _write_artifact(checkpoint: Checkpoint, cfg: ExportConfig, folder: Path) -> Manifest:
    writer = EXPORTERS[cfg.format]
    try:
        with library_output():  # converters' own progress bars and advice, unless --verbose
            facts = {**writer(checkpoint, cfg, folder), "folder": folder}
    except ExportError:
        raise
    except Exception as e:
        raise ExportError(f"{cfg.format} export of '{checkpoint.source}' failed: {e}") from e
    make_readable(folder)  # modes first: a chmod after sealing would make every load hash the files again
    manifest = build_manifest(checkpoint, cfg, facts)
    write_manifest(manifest, folder)
    manifest = replace(manifest, parity=check_parity(folder, manifest, checkpoint, cfg))
    if cfg.format in AFTER_PARITY:  # the model changes (its metadata): seal what is finally on disk;
        # the copy of the manifest inside the model cannot hold its own hashes, so it carries none
        AFTER_PARITY[cfg.format](folder, replace(manifest, files={}), cfg)
        make_readable(folder)
        manifest = replace(manifest, files=seal_model(folder, manifest.model_file))
    write_manifest(manifest, folder)
    if manifest.parity["status"] == "failed":
        raise ParityError(manifest.parity)
    return manifest
