"""Evaluation data against a trained model's labels: an image-folder tree read whole, each class
folder mapped to the model's label index (by name, or through a mapping file such as ImageNet's
`LOC_synset_mapping.txt`), and seeded samples that spread `limit` images across the classes.

ImageNet's validation tree is the case this serves: its folders are WordNet ids (`n01440764`),
the model's labels are names in its own order (`id2label`), and some names repeat ("crane").
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from .data import IMAGE_SUFFIXES, ImageSet
from .errors import DataSourceError


def class_folders(root: Path) -> dict[str, list[Path]]:
    """`root/<class>/**/image` -> {class folder name: sorted image paths}, empty folders left out."""
    folders = {d.name: sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
               for d in sorted(root.iterdir()) if d.is_dir()}
    return {name: files for name, files in folders.items() if files}


def read_label_map(path: Path, labels: list[str]) -> dict[str, int]:
    """A mapping file -> {folder: label index}. JSON: {folder: index or label name}. Text: one
    line per class in the model's order, the folder name first (the rest of the line is free),
    as ImageNet's `LOC_synset_mapping.txt` ("n01440764 tench, Tinca tinca")."""
    if not path.is_file():
        raise DataSourceError(f"label map '{path}' does not exist")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        raw = json.loads(text)
        return {str(k): v if isinstance(v, int) else _index_by_name(str(v), labels, str(k)) for k, v in raw.items()}
    lines = [line.split()[0] for line in text.splitlines() if line.strip()]
    if len(lines) != len(labels):
        raise DataSourceError(f"label map '{path}' has {len(lines)} lines for the model's {len(labels)} labels")
    return {folder: i for i, folder in enumerate(lines)}


def _index_by_name(name: str, labels: list[str], folder: str) -> int:
    hits = [i for i, label in enumerate(labels) if label == name]
    if len(hits) != 1:
        raise DataSourceError(f"folder '{folder}': label '{name}' is {'ambiguous' if hits else 'not'} among the "
                              "model's labels; map it to an index")
    return hits[0]


def folder_label_indices(folders: list[str], labels: list[str], label_map: dict[str, int] | None) -> dict[str, int]:
    """Each folder's index among the model's labels; every folder that has none is listed at once."""
    problems, out = [], {}
    by_name = {}
    for i, label in enumerate(labels):
        by_name.setdefault(label, []).append(i)
    for folder in folders:
        if label_map is not None:
            index = label_map.get(folder)
            if index is None or not 0 <= index < len(labels):
                problems.append(f"'{folder}' (not in the label map)" if index is None
                                else f"'{folder}' -> {index} (out of range)")
                continue
            out[folder] = index
        elif len(by_name.get(folder, [])) == 1:
            out[folder] = by_name[folder][0]
        else:
            why = "repeated among" if folder in by_name else "not one of"
            problems.append(f"'{folder}' ({why} the model's labels)")
    if problems:
        shown = ", ".join(problems[:10]) + (" ..." if len(problems) > 10 else "")
        raise DataSourceError(f"{len(problems)} class folder(s) cannot be matched to the model's labels: {shown}; "
                              "give --label-map (JSON {folder: index or label}, or one folder per line in label order)")
    return out


def load_eval_folder(root: Path, labels: list[str], label_map: Path | None = None) -> ImageSet:
    """Every image of `root/<class>/` (or of `root/test/<class>/` when the tree has splits), its
    target the model's index for the folder."""
    root = Path(root)
    if (root / "test").is_dir() and (root / "train").is_dir():
        root = root / "test"
    folders = class_folders(root)
    if not folders:
        raise DataSourceError(f"{root}: no images found (expected class_name/*.jpg subfolders)")
    mapping = None if label_map is None else read_label_map(Path(label_map), labels)
    indices = folder_label_indices(list(folders), labels, mapping)
    items = [(p, indices[name]) for name, files in folders.items() for p in files]
    return ImageSet(lambda i: (Image.open(items[i][0]), items[i][1]), len(items), [t for _, t in items])


def sample_across_classes(targets: np.ndarray, limit: int | None, seed: int = 0) -> np.ndarray:
    """Up to `limit` indices (sorted) taken in turn from each class, a seeded shuffle within each
    class and over the classes, so a small `limit` still covers the classes evenly."""
    targets = np.asarray(targets)
    if limit is None or limit >= len(targets):
        return np.arange(len(targets))
    rng = np.random.default_rng(seed)
    classes = rng.permutation(np.unique(targets))
    queues = [rng.permutation(np.flatnonzero(targets == c)) for c in classes]
    depth = max(len(q) for q in queues)
    order = [q[i] for i in range(depth) for q in queues if i < len(q)]
    return np.sort(np.array(order[:limit], dtype=np.int64))


def take(images: ImageSet, indices: np.ndarray) -> ImageSet:
    """The items of `images` at `indices`, boxes included."""
    idx = np.asarray(indices, dtype=np.int64)
    boxes = None if images.boxes is None else images.boxes[idx]
    return ImageSet(lambda i: images[int(idx[i])], len(idx), images.targets[idx], boxes)
