"""Data sources, a registry: hub dataset id, parquet folder, image-folder tree, `digits`.

Every source yields a `LabeledImages` pair (train, test) of `ImageSet`s: indexable
`(PIL.Image, label)` sequences sharing one list of label names.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from PIL import Image

from .errors import DataSourceError

IMAGE_COLUMNS = ("img", "image")
LABEL_COLUMNS = ("label", "labels")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
DEFAULT_DATA = "uoft-cs/cifar10"


class ImageSet:
    """`(PIL.Image RGB, int label)` items from either a HF `Dataset` or parallel lists."""

    def __init__(self, getter: Callable[[int], tuple[Image.Image, int]], length: int, labels: Sequence[int],
                 boxes: np.ndarray | None = None, paths: Sequence[Path] | None = None):
        self._get, self._len, self.targets = getter, length, np.asarray(labels, dtype=np.int64)
        self.boxes = boxes  # (N, 4) x0, y0, x1, y1 object boxes, for localization sets only
        self.paths = paths  # the image files, for folder sets (named in error messages)

    def describe(self, i: int) -> str:
        return str(self.paths[i]) if self.paths is not None else f"image #{i}"

    def unreadable(self, desc: str, progress: bool = True, workers: int = 0) -> list[str]:
        """Open and decode every image once (in `workers` loader processes); `"where: why"` for each
        that fails, in index order."""
        import torch
        from tqdm import tqdm

        loader = torch.utils.data.DataLoader(_Opened(self), batch_size=256, num_workers=workers, collate_fn=list)
        bad = []
        with tqdm(total=self._len, desc=desc, unit="img", disable=not progress, mininterval=1.0) as bar:
            for batch in loader:
                bad += [why for why in batch if why]
                bar.update(len(batch))
        return bad

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i: int) -> tuple[Image.Image, int]:
        image, label = self._get(i)
        return image.convert("RGB"), int(label)

    def subset(self, n: int | None) -> "ImageSet":
        """The first `n` items (all when `n` is None)."""
        if n is None or n >= self._len:
            return self
        return ImageSet(self._get, n, self.targets[:n], None if self.boxes is None else self.boxes[:n],
                        None if self.paths is None else self.paths[:n])


class _Opened:
    """Item i of an `ImageSet` -> "" when it decodes, else `"where: why"` (a map-style dataset)."""

    def __init__(self, images: ImageSet):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> str:
        try:
            self.images[i][0].load()
            return ""
        except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError...
            return f"{self.images.describe(i)}: {type(e).__name__}: {e}"


LOCAL_KINDS = ("folder", "parquet")  # sources whose every image is opened once before training
MAX_LISTED = 20  # bad files named in one error


@dataclass(frozen=True)
class LabeledImages:
    train: ImageSet
    test: ImageSet
    labels: list[str]
    source: str
    kind: str = "builtin"  # "builtin", "hub", "folder" or "parquet"

    def label_problems(self) -> list[str]:
        """At least two classes, and every label of every split an index into them."""
        problems = [] if len(self.labels) >= 2 else [
            f"{self.source}: {len(self.labels)} class ({', '.join(map(str, self.labels)) or 'none'}); "
            f"a classifier needs at least two"]
        for split, images in (("train", self.train), ("test", self.test)):
            bad = images.targets[(images.targets < 0) | (images.targets >= len(self.labels))]
            if len(bad):
                problems.append(f"{self.source} ({split}): {len(bad)} labels outside 0..{len(self.labels) - 1} "
                                f"(e.g. {', '.join(map(str, sorted(set(bad.tolist()))[:3]))})")
        return problems

    def check(self, verify_images: bool = False, progress: bool = True, workers: int = 0) -> None:
        """Refuse unusable data before training: bad labels, and (local sources, `verify_images`)
        every image that does not decode, listed at once (`workers`: loader processes that decode)."""
        problems = self.label_problems()
        if verify_images and self.kind in LOCAL_KINDS and not problems:
            for split, images in (("train", self.train), ("test", self.test)):
                bad = images.unreadable(f"checking {split} images", progress, workers)
                problems += [f"{split}: {b}" for b in bad[:MAX_LISTED]]
                if len(bad) > MAX_LISTED:
                    problems.append(f"{split}: ... and {len(bad) - MAX_LISTED} more unreadable images")
        if problems:
            raise DataSourceError(*problems)


# ---------------------------------------------------------------------------------- HF datasets
def _columns(ds, where: str) -> tuple[str, str]:
    image = next((c for c in IMAGE_COLUMNS if c in ds.column_names), None)
    label = next((c for c in LABEL_COLUMNS if c in ds.column_names), None)
    if image is None or label is None:
        raise DataSourceError(f"{where} has columns {ds.column_names}; expected an image column "
                              f"({' or '.join(IMAGE_COLUMNS)}) and a label column ({' or '.join(LABEL_COLUMNS)})")
    return image, label


def _label_names(ds, column: str) -> list[str] | None:
    """The split's class names, or None for plain integer labels (named by the union of splits)."""
    feature = ds.features[column]
    return list(feature.names) if hasattr(feature, "names") else None


def _row_getter(ds, image: str, label: str, index: dict[str, int] | None = None
                ) -> Callable[[int], tuple[Image.Image, int]]:
    """Row i -> (image, label); `index` maps text labels to class indices."""
    def get(i: int):
        row = ds[i]
        return row[image], row[label] if index is None else index[str(row[label])]
    return get


def _text_labels(splits: dict, column: dict[str, str]) -> dict[str, int] | None:
    """Class name -> index for label columns that hold text (sorted names of both splits), else None."""
    if not all(getattr(splits[s].features[column[s]], "dtype", None) in ("string", "large_string") for s in splits):
        return None
    names = sorted({str(x) for s in splits for x in splits[s][column[s]]})
    return {name: i for i, name in enumerate(names)}


def _from_hf(splits: dict, source: str, kind: str = "hub") -> LabeledImages:
    if "train" not in splits or "test" not in splits:
        raise DataSourceError(f"{source} has splits {sorted(splits)}; expected 'train' and 'test'")
    sets, names, columns = {}, {}, {}
    for split in ("train", "test"):
        if len(splits[split]) == 0:
            raise DataSourceError(f"{source}: the {split} split is empty")
        columns[split] = _columns(splits[split], f"{source} ({split})")
    index = _text_labels({s: splits[s] for s in columns}, {s: c[1] for s, c in columns.items()})
    for split, (image, label) in columns.items():
        ds = splits[split]
        names[split] = list(index) if index is not None else _label_names(ds, label)
        targets = [index[str(x)] for x in ds[label]] if index is not None else ds[label]
        sets[split] = ImageSet(_row_getter(ds, image, label, index), len(ds), targets)
    if names["train"] != names["test"] and None not in names.values():
        raise DataSourceError(f"{source}: labels disagree between train {names['train']} "
                              f"and test {names['test']}")
    labels = names["train"] or names["test"]
    if labels is None:  # integer labels: the classes of both splits together
        top = max(int(s.targets.max()) for s in sets.values())
        labels = [str(i) for i in range(top + 1)]
    return LabeledImages(sets["train"], sets["test"], labels, source, kind)


@contextlib.contextmanager
def _silenced(logger: str) -> Iterator[None]:
    """`logger`'s records hidden while the block runs (its errors are raised and reported by us)."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        log.setLevel(level)


def load_parquet_folder(folder: Path) -> LabeledImages:
    """Parquet shards named `train-*.parquet` and `test-*.parquet` with `img`/`label` columns."""
    from datasets import load_dataset

    files = {s: sorted(str(p) for p in folder.glob(f"{s}-*.parquet")) for s in ("train", "test")}
    missing = [s for s, f in files.items() if not f]
    if missing:
        raise DataSourceError(f"{folder}: no {' or '.join(missing)} shards (expected {missing[0]}-*.parquet)")
    # one split at a time: loaded together, the test shards would be cast to train's features
    try:  # datasets logs the failure as well: this error says it once
        with _silenced("datasets"):
            splits = {s: load_dataset("parquet", data_files=f, split="train") for s, f in files.items()}
    except Exception as e:  # pyarrow and datasets raise their own kinds for a damaged or foreign file
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise DataSourceError(f"{folder}: cannot read its parquet shards ({reason})") from e
    return _from_hf(splits, str(folder), "parquet")


def load_hub(dataset_id: str) -> LabeledImages:
    """A hub dataset with `train`/`test` splits and `img`/`label` columns (e.g. uoft-cs/cifar10)."""
    from datasets import load_dataset

    from _infra.hf import hub_reachable

    try:
        if not hub_reachable():
            raise ConnectionError("the Hugging Face hub is not reachable")
        splits = load_dataset(dataset_id)
    except Exception as e:  # datasets raises ConnectionError, FileNotFoundError, DatasetNotFoundError...
        raise DataSourceError(f"could not load dataset '{dataset_id}' from the Hugging Face hub "
                              f"(offline, or no such dataset?): use a local parquet or image folder, "
                              f"or the built-in 'digits'") from e
    return _from_hf(splits, dataset_id)


# ---------------------------------------------------------------------------------- folders
def _scan_classes(root: Path) -> dict[str, list[Path]]:
    classes = {d.name: sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
               for d in sorted(root.iterdir()) if d.is_dir()}
    return {name: files for name, files in classes.items() if files}


def _folder_set(classes: dict[str, list[Path]], labels: list[str]) -> ImageSet:
    items = [(p, labels.index(c)) for c in labels for p in classes.get(c, [])]
    return ImageSet(lambda i: (Image.open(items[i][0]), items[i][1]), len(items), [t for _, t in items],
                    paths=[p for p, _ in items])


def load_image_folder(root: Path, test_fraction: float = 0.2, seed: int = 0) -> LabeledImages:
    """`root/class_name/*.jpg`, or `root/{train,test}/class_name/*.jpg`.

    Without train/test subfolders, a stratified `test_fraction` of each class is held out.
    """
    if (root / "train").is_dir() and (root / "test").is_dir():
        train, test = _scan_classes(root / "train"), _scan_classes(root / "test")
        if not train or not test:
            raise DataSourceError(f"{root}: no images under train/ or test/")
        labels = sorted(set(train) | set(test))  # a class may be missing from one split
        return LabeledImages(_folder_set(train, labels), _folder_set(test, labels), labels, str(root), "folder")
    classes = _scan_classes(root)
    if not classes:
        raise DataSourceError(f"{root}: no images found (expected class_name/*.jpg subfolders)")
    rng = np.random.default_rng(seed)
    train, test = {}, {}
    for name, files in classes.items():
        order = rng.permutation(len(files))
        n_test = max(1, round(len(files) * test_fraction)) if len(files) > 1 else 0
        test[name] = [files[i] for i in order[:n_test]]
        train[name] = [files[i] for i in order[n_test:]]
    labels = sorted(classes)
    return LabeledImages(_folder_set(train, labels), _folder_set(test, labels), labels, str(root), "folder")


# ---------------------------------------------------------------------------------- built-in
def load_digits_images(test_fraction: float = 0.2, seed: int = 0) -> LabeledImages:
    """scikit-learn's 8x8 `load_digits` (1,797 images) as RGB images, stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    pixels = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)  # (N, 8, 8), 0..16 -> 0..255
    rgb = np.repeat(pixels[..., None], 3, axis=-1)
    tr, te = train_test_split(np.arange(len(rgb)), test_size=test_fraction, random_state=seed,
                              stratify=digits.target)

    def make(idx):
        return ImageSet(lambda i: (Image.fromarray(rgb[idx[i]]), digits.target[idx[i]]), len(idx),
                        digits.target[idx])

    return LabeledImages(make(tr), make(te), [str(d) for d in range(10)], "digits")


def load_digits_clutter(test_fraction: float = 0.2, seed: int = 0) -> LabeledImages:
    """`finetune.localization`'s digits pasted on clutter (10,782 images, 32 px) with their boxes;
    split by source digit, so no digit appears in both train and test."""
    from sklearn.model_selection import train_test_split

    from .localization import make_localization_set

    loc = make_localization_set(seed=seed)
    digits = np.unique(loc.source_index)
    _, test_digits = train_test_split(digits, test_size=test_fraction, random_state=seed,
                                      stratify=loc.labels[np.searchsorted(loc.source_index, digits)])
    is_test = np.isin(loc.source_index, test_digits)
    order = np.random.default_rng(seed).permutation(len(loc.labels))  # canvases of one digit are adjacent
    is_test, keep = is_test[order], order

    def make(idx):
        return ImageSet(lambda i: (Image.fromarray(loc.images[idx[i]]), loc.labels[idx[i]]), len(idx),
                        loc.labels[idx], loc.boxes[idx])

    return LabeledImages(make(keep[~is_test]), make(keep[is_test]), list(loc.label_names),
                         "digits-clutter")


BUILTIN_DATA: dict[str, Callable[[], LabeledImages]] = {"digits": load_digits_images,
                                                       "digits-clutter": load_digits_clutter}


def load_data(source: str = DEFAULT_DATA) -> LabeledImages:
    """Resolve `source`: a built-in name, a parquet folder, an image-folder tree, or a hub id."""
    if source in BUILTIN_DATA:
        return BUILTIN_DATA[source]()
    path = Path(source).expanduser()
    if path.is_dir():
        if not any(path.iterdir()):
            raise DataSourceError(f"data folder '{source}' is empty")
        if any(path.glob("*.parquet")):
            return load_parquet_folder(path)
        return load_image_folder(path)
    if path.exists():
        raise DataSourceError(f"data path '{source}' is a file; give a folder, a hub dataset id, "
                              f"or one of: {', '.join(BUILTIN_DATA)}")
    if source.startswith((".", "/", "~")) or source.count("/") > 1:
        raise DataSourceError(f"data folder '{source}' does not exist")
    return load_hub(source)
