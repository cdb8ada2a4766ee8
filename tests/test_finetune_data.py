"""Data sources: every kind loads to the same (image, label) shape; bad input is refused clearly."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import LABELS, write_image_folder, write_parquet_folder

from finetune.data import load_data
from finetune.errors import DataSourceError


def test_digits_is_rgb_and_stratified():
    data = load_data("digits")
    image, label = data.train[0]
    assert image.mode == "RGB" and image.size == (8, 8)
    assert data.labels == [str(d) for d in range(10)]
    assert len(data.train) + len(data.test) == 1797
    assert set(np.unique(data.test.targets)) == set(range(10))
    assert 0 <= label < 10


def test_parquet_folder_reads_names_from_features(tmp_path):
    data = load_data(str(write_parquet_folder(tmp_path / "pq")))
    assert data.labels == LABELS
    assert (len(data.train), len(data.test)) == (40, 12)
    image, label = data.test[5]
    assert image.mode == "RGB" and image.size == (32, 32) and label == 5 % 4


def test_parquet_with_image_column_named_image(tmp_path):
    data = load_data(str(write_parquet_folder(tmp_path / "pq", columns=("image", "labels"))))
    assert len(data.train) == 40


def test_image_folder_split_is_stratified(tmp_path):
    data = load_data(str(write_image_folder(tmp_path / "imgs", per_class=5)))
    assert data.labels == sorted(LABELS)
    assert len(data.train) + len(data.test) == 20
    assert sorted(np.unique(data.test.targets)) == [0, 1, 2, 3]


def test_image_folder_with_train_and_test(tmp_path):
    write_image_folder(tmp_path / "d" / "train", per_class=3)
    write_image_folder(tmp_path / "d" / "test", per_class=2)
    data = load_data(str(tmp_path / "d"))
    assert (len(data.train), len(data.test)) == (12, 8)


@pytest.mark.parametrize("make, match", [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "is empty"),
    (lambda p: write_parquet_folder(p / "cols", columns=("pixels", "label")), "expected an image column"),
    (lambda p: write_parquet_folder(p / "names", test_labels=["a", "b", "c", "d"]), "labels disagree"),
    (lambda p: (p / "f.txt").write_text("x") and p / "f.txt", "is a file"),
    (lambda p: (p / "noimg" / "a").mkdir(parents=True) or p / "noimg", "no images"),
])
def test_bad_data_is_refused(tmp_path, make, match):
    with pytest.raises(DataSourceError, match=match):
        load_data(str(make(tmp_path)))


def test_hub_dataset_offline_fails_fast_and_clearly():
    with pytest.raises(DataSourceError, match="Hugging Face hub.*digits"):
        load_data("uoft-cs/cifar10")


def test_unreadable_images_are_listed_alike_by_one_process_or_several(tmp_path):
    """The pre-training check decodes in loader processes on a GPU machine: same list, same order.
    The several-process run happens in a fresh interpreter: forking this test process, which has
    loaded every other test's libraries and their threads, is not what `finetune` does."""
    import json
    import subprocess
    import sys

    root = write_image_folder(tmp_path / "imgs", per_class=6)
    broken = sorted(root.rglob("*.png"))[1::4]
    for path in broken:
        path.write_bytes(b"not an image")
    with pytest.raises(DataSourceError) as e:
        load_data(str(root)).check(verify_images=True, progress=False, workers=0)
    script = ("import json, sys\nfrom finetune.data import load_data\nfrom finetune.errors import DataSourceError\n"
              "try:\n    load_data(sys.argv[1]).check(verify_images=True, progress=False, workers=2)\n"
              "except DataSourceError as e:\n    print(json.dumps(e.problems))\n")
    out = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == e.value.problems
    named = " ".join(e.value.problems)
    assert sum(path.name in named for path in broken) == len(broken)
