"""`python -m export push ARTIFACT --repo org/name`: an artifact to the Hugging Face Hub, with a model
card (`runtime.card`) and an example heatmap, in one commit; `runtime.load("org/name")` reads it back.

The artifact is loaded and verified first (manifest, every file's SHA-256, the model against its
manifest), so a broken or changed artifact is never published. Exactly the files the manifest seals
are uploaded, with the manifest, the card and the picture; nothing else of the folder.
`--dry-run DIR` writes the card and the picture to DIR and lists what would be uploaded, with no
network."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from _infra.errors import ToolkitError, first_line
from runtime import Predictor, load
from runtime.card import PICTURE, model_card
from runtime.hub import is_hub_id
from runtime.manifest import MANIFEST

CARD = "README.md"
MAX_BENCH_BYTES = 16 << 20  # a bench results.json is a few kB per target


@dataclass(frozen=True)
class PushConfig:
    """What `export push` sends: flags map one-to-one to fields."""

    repo: str  # org/name on the hub
    image: str | None = None  # a photo for the card's example heatmap
    bench: str | None = None  # a `python -m bench` results.json for the card's accuracy and latency
    license: str | None = None  # the card's license id (e.g. apache-2.0, mit)
    private: bool = False
    dry_run: str | None = None  # a folder for the card and picture instead of uploading


def repo_files(artifact: str | Path, config: PushConfig) -> tuple[Predictor, dict[str, bytes | Path]]:
    """The verified predictor and every file of the hub commit: path in the repository -> bytes
    (card, picture) or the artifact's file (manifest and every file it seals)."""
    if not is_hub_id(config.repo):
        raise ToolkitError(f"--repo '{config.repo}' is not a hub repository id 'org/name'")
    folder = Path(artifact)
    predictor = load(folder)  # refuses anything but an intact, loadable artifact
    manifest = predictor.manifest
    picture = example_picture(predictor, config.image)
    card = model_card(manifest, config.repo, read_bench(config.bench), PICTURE if picture else None, config.license)
    files: dict[str, bytes | Path] = {MANIFEST: folder / MANIFEST}
    files.update({name: folder / name for name in manifest.files})
    files[CARD] = card.encode()
    if picture:
        files[PICTURE] = picture
    return predictor, files


def example_picture(predictor: Predictor, image: str | None) -> bytes | None:
    """The explain picture of `image` as PNG bytes (None without an image or a heatmap)."""
    if image is None or not predictor.explains:
        return None
    prediction = predictor.predict([image])
    if prediction.error[0] is not None:
        raise ToolkitError(f"--image {prediction.error[0]}")
    buffer = io.BytesIO()
    prediction.picture(0).save(buffer, format="PNG")
    return buffer.getvalue()


def read_bench(path: str | None) -> dict | None:
    """A bench results.json (header and rows), refused in one line when it is not one."""
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(MAX_BENCH_BYTES + 1)[:MAX_BENCH_BYTES])
    except (OSError, ValueError) as e:
        raise ToolkitError(f"--bench {path}: not a readable bench results file ({first_line(e)})") from None
    if not (isinstance(data, dict) and isinstance(data.get("rows"), list)):
        raise ToolkitError(f"--bench {path}: not a `python -m bench` results.json (no rows)")
    return data


def push(artifact: str | Path, config: PushConfig) -> str:
    """Upload (or, with dry_run, write the card and picture locally); returns the commit's URL or the folder."""
    predictor, files = repo_files(artifact, config)
    if config.dry_run:
        return write_preview(files, Path(config.dry_run))
    from huggingface_hub import CommitOperationAdd, HfApi

    m = predictor.manifest
    api = HfApi()
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=content if isinstance(content, bytes)
                                     else str(content)) for name, content in files.items()]
    try:
        api.create_repo(config.repo, private=config.private, exist_ok=True, repo_type="model")
        commit = api.create_commit(config.repo, operations, commit_message=f"{m.format} {m.precision} artifact, "
                                   f"explain {m.explain} (explainable-vit)", repo_type="model")
    except OSError as e:  # requests' errors: HTTP status (401 not logged in, 403), connection, proxy
        raise ToolkitError(f"pushing to '{config.repo}' failed: {first_line(e)} (log in with hf auth login)") from e
    return commit.commit_url


def write_preview(files: dict[str, bytes | Path], folder: Path) -> str:
    """The card and picture in `folder` (new or empty), the artifact files listed, nothing sent."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ToolkitError(f"--dry-run {folder} exists and is not an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        size = len(content) if isinstance(content, bytes) else content.stat().st_size
        print(f"{name:60s} {size:>12,d} bytes")
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
    return str(folder)
