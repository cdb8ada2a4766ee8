"""Fast tests that pin down what `runtime.images` and `runtime.manifest` do, written against the
mutants `make mutation` (mutmut) left alive: each names the behaviour a wrong operator, constant,
argument or message would break. No export and no model: pure functions on small inputs."""
from __future__ import annotations

import copy
import errno
import hashlib
import json
import os
import socket
import stat
import struct
import tempfile
import warnings
import zlib
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from runtime import images
from runtime import manifest as mf
from runtime.contract import CLASSIFIER_OUTPUTS, EXPLAIN, FORMATS, class_input_spec, output_specs
from runtime.images import (MAX_PIXELS, MAX_SIDE, ImageLoadError, describe, resize_batch, to_rgb, upsample,
                            upsample_all)
from runtime.manifest import (MANIFEST, SCHEMA_VERSION, ArtifactError, Manifest, ManifestError, build_manifest,
                              field_problems, is_artifact_folder, read_manifest, seal_model, verify_files,
                              write_manifest)
from _infra.errors import ToolkitError


def png_header(width: int, height: int) -> bytes:
    """A 1-bit grayscale PNG that declares `width x height` and holds no decodable pixels: PIL reads
    its size on open without allocating the image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"garbage") + chunk(b"IEND", b"")


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


# ---- runtime.images: what a user hands us ----

def test_describe_names_paths_by_their_text_and_objects_by_type_and_position(tmp_path):
    assert describe(tmp_path / "a.jpg", 0) == str(tmp_path / "a.jpg")
    assert describe("b.png", 3) == "b.png"
    assert describe(np.zeros((2, 2), np.uint8), 5) == "<ndarray #5>"
    assert describe(Image.new("RGB", (1, 1)), 1) == "<Image #1>"


def first_block_device() -> Path | None:
    dev = Path("/dev")
    return next((p for p in sorted(dev.iterdir()) if not p.is_symlink() and stat.S_ISBLK(p.lstat().st_mode)), None)


def test_a_path_that_is_not_a_file_says_what_it_is(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    cases = {tmp_path: "a folder, not an image file", tmp_path / "pipe": "a named pipe (FIFO), not an image file",
             tmp_path / "missing.jpg": "no such file", tmp_path / "dangling": "a link to nothing (no such file)",
             tmp_path / "loop": f"cannot be read ({os.strerror(errno.ELOOP)})",
             Path(os.devnull): "a character device, not an image file"}
    block = first_block_device()
    if block is not None:
        cases[block] = "a block device, not an image file"
    for path, what in cases.items():
        with pytest.raises(ImageLoadError) as e:
            to_rgb(path)
        assert str(e.value) == f"{path}: {what}"


def test_a_socket_is_named_as_one():
    folder = Path(tempfile.mkdtemp(prefix="sock-"))  # short: a socket path has a length limit
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(folder / "s"))
        with pytest.raises(ImageLoadError, match=r"s: a socket, not an image file$"):
            to_rgb(folder / "s")
    finally:
        server.close()
        (folder / "s").unlink()
        folder.rmdir()


def test_empty_and_unreadable_files_are_told_apart(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "one.png").write_bytes(b"x")
    with pytest.raises(ImageLoadError) as e:
        to_rgb(tmp_path / "empty.png")
    assert str(e.value) == f"{tmp_path / 'empty.png'}: empty file"
    with pytest.raises(ImageLoadError) as e:
        to_rgb(tmp_path / "one.png")
    assert str(e.value).startswith(f"{tmp_path / 'one.png'}: not a readable image (cannot identify image file")


def test_pixel_limit_is_inclusive_and_named_in_the_message(tmp_path):
    """10,000 x 10,000 is exactly the limit (read, then fails on its garbage pixels); one more column
    is refused before decoding. PIL's own warning above its lower limit never reaches the caller."""
    side = int(MAX_PIXELS ** 0.5)
    (tmp_path / "limit.png").write_bytes(png_header(side, side))
    (tmp_path / "over.png").write_bytes(png_header(side + 1, side))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning that escapes fails the test
        with pytest.raises(ImageLoadError) as over:
            to_rgb(tmp_path / "over.png")
        with pytest.raises(ImageLoadError) as limit:
            to_rgb(tmp_path / "limit.png")
    assert str(over.value) == (f"{tmp_path / 'over.png'}: {side + 1}x{side} is {(side + 1) * side:,} pixels, "
                               f"more than the limit of {MAX_PIXELS:,}")
    assert str(limit.value).startswith(f"{tmp_path / 'limit.png'}: not a readable image (")


def test_pils_decompression_bomb_error_is_an_image_error(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # PIL refuses above twice its limit
    Image.new("L", (20, 20)).save(tmp_path / "bomb.png")
    with pytest.raises(ImageLoadError) as e:
        to_rgb(tmp_path / "bomb.png")
    assert str(e.value).startswith(f"{tmp_path / 'bomb.png'}: larger than {MAX_PIXELS:,} pixels (Image size (400 ")


def test_in_memory_images_and_arrays_over_the_limit_are_named(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    with pytest.raises(ImageLoadError, match=r"^image: 11x10 is 110 pixels, more than the limit of 100$"):
        to_rgb(Image.new("RGB", (11, 10)))
    with pytest.raises(ImageLoadError, match=r"^array: 10x11 is 110 pixels, more than the limit of 100$"):
        to_rgb(np.zeros((11, 10, 3), np.uint8))
    assert to_rgb(np.zeros((10, 10, 3), np.uint8)).size == (10, 10)


def test_unsupported_input_type_is_named():
    with pytest.raises(ImageLoadError, match=r"^unsupported input type int; give a path, a PIL image or a uint8 "
                                             r"array$"):
        to_rgb(3)


def test_arrays_of_every_accepted_shape_and_none_other():
    rgb = np.arange(4 * 1 * 3, dtype=np.uint8).reshape(4, 1, 3) * 20  # one column: shape[-2] == 1
    assert np.array_equal(pixels(to_rgb(rgb)), rgb)
    gray = np.array([[10], [20], [30]], np.uint8)  # (H, 1): two dimensions, one column
    assert np.array_equal(pixels(to_rgb(gray)), np.repeat(gray[..., None], 3, axis=2))
    single = np.array([[[5], [6]], [[7], [8]]], np.uint8)  # (H, W, 1)
    assert np.array_equal(pixels(to_rgb(single)), np.repeat(single, 3, axis=2))
    rgba = np.zeros((2, 3, 4), np.uint8)  # fully transparent: white
    assert np.array_equal(pixels(to_rgb(rgba)), np.full((2, 3, 3), 255, np.uint8))
    for shape in [(4,), (2, 2, 2), (2, 2, 5), (1, 2, 2, 3)]:
        with pytest.raises(ImageLoadError) as e:
            to_rgb(np.zeros(shape, np.uint8))
        assert str(e.value) == f"array of shape {shape}: expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)"
    with pytest.raises(ImageLoadError, match=r"^array of dtype float32: expected uint8$"):
        to_rgb(np.zeros((2, 2, 3), np.float32))


def test_bounded_size_scales_the_long_side_to_max_side_and_never_to_zero():
    bounded = images._bounded_size
    assert bounded((100, 50)) == (100, 50)  # small: unchanged, never enlarged
    assert bounded((2 * MAX_SIDE, 16)) == (MAX_SIDE, 8)
    assert bounded((16, 2 * MAX_SIDE)) == (8, MAX_SIDE)
    assert bounded((5 * MAX_SIDE, 1)) == (MAX_SIDE, 1)
    assert bounded((1, 5 * MAX_SIDE)) == (1, MAX_SIDE)


def test_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    """A JPEG twice MAX_SIDE wide is decoded at half scale by libjpeg (`draft`), not decoded whole and
    resampled: the same pixels as PIL's own draft decode."""
    noise = np.random.default_rng(0).integers(0, 256, (16, 2 * MAX_SIDE, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "wide.jpg", quality=90)
    got = to_rgb(tmp_path / "wide.jpg")
    with Image.open(tmp_path / "wide.jpg") as want:
        want.draft("RGB", (MAX_SIDE, 8))
        assert want.size == (MAX_SIDE, 8)
        assert got.size == want.size and np.array_equal(pixels(got), pixels(want.convert("RGB")))


def test_large_images_are_reduced_by_box_then_bilinear():
    """Four times MAX_SIDE: PIL's reducing gap 2 first halves by box averaging, then resamples
    bilinearly (the docstring's promise; another filter or gap gives other pixels)."""
    noise = np.random.default_rng(1).integers(0, 256, (4, 4 * MAX_SIDE, 3), dtype=np.uint8)
    got = to_rgb(Image.fromarray(noise))
    want = Image.fromarray(noise).reduce(2).resize((MAX_SIDE, 1), Image.Resampling.BILINEAR)
    assert got.size == (MAX_SIDE, 1) and np.array_equal(pixels(got), pixels(want))


def test_rgb_passes_through_untouched():
    image = Image.new("RGB", (3, 2), (1, 2, 3))
    assert images._rgb(image) is image  # no copy of the common case


@pytest.mark.parametrize("mode", ["LA", "PA", "RGBA"])
def test_alpha_modes_are_composited_on_white(mode):
    image = Image.new(mode, (2, 1))  # all zero: black (or palette entry 0), fully transparent
    image.putpixel((1, 0), (200, 255) if mode != "RGBA" else (200, 200, 200, 255))
    got = pixels(images._rgb(image))
    assert got.dtype == np.uint8 and got[0, 0].tolist() == [255, 255, 255]
    assert got[0, 1].tolist() == ([200, 200, 200] if mode != "PA" else pixels(image.convert("RGB"))[0, 1].tolist())


@pytest.mark.parametrize("mode", ["P", "1", "L", "RGB"])
def test_a_transparent_colour_is_composited_on_white_in_every_mode(tmp_path, mode):
    """A PNG's tRNS chunk (one colour marked transparent) means white, whatever the image's mode."""
    image = Image.new(mode, (2, 1))
    if mode == "P":
        image.putpalette([0, 0, 0, 90, 90, 90])
    image.putpixel((1, 0), {"P": 1, "1": 1, "L": 90, "RGB": (90, 90, 90)}[mode])
    image.save(tmp_path / "t.png", transparency=0 if mode != "RGB" else (0, 0, 0))
    got = pixels(to_rgb(tmp_path / "t.png"))
    assert got.tolist() == [[[255, 255, 255], [255, 255, 255] if mode == "1" else [90, 90, 90]]]


def test_a_palette_without_transparency_keeps_its_colours():
    image = Image.new("P", (1, 1))
    image.putpalette([10, 20, 30])
    assert pixels(images._rgb(image)).tolist() == [[[10, 20, 30]]]


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L", "I"])
def test_16_and_32_bit_images_are_stretched_to_8_bits(mode):
    values = np.array([[0, 1000, 2000, 4000]])
    image = Image.fromarray(values.astype(np.int32)).convert(mode) if mode != "I" else Image.fromarray(
        values.astype(np.int32))
    assert image.mode == mode
    got = pixels(images._rgb(image))
    assert got.dtype == np.uint8 and got.shape == (1, 4, 3)
    assert got[0, :, 0].tolist() == (values[0] / 4000 * 255).astype(np.uint8).tolist() == [0, 63, 127, 255]
    binary = Image.fromarray(np.array([[0, 1]], np.int32)).convert(mode) if mode != "I" else Image.fromarray(
        np.array([[0, 1]], np.int32))
    assert pixels(images._rgb(binary))[0, :, 0].tolist() == [0, 255]  # a maximum of 1 is white
    dark = Image.fromarray(np.zeros((1, 2), np.int32)).convert(mode) if mode != "I" else Image.fromarray(
        np.zeros((1, 2), np.int32))
    assert pixels(images._rgb(dark)).tolist() == [[[0, 0, 0], [0, 0, 0]]]  # all zero: black, no division by 0


@pytest.mark.parametrize("mode", ["L", "1", "CMYK", "F"])
def test_other_modes_convert_to_rgb_without_stretching(mode):
    gray = Image.fromarray(np.array([[0, 100]], np.uint8))
    image = gray.convert(mode)
    got = images._rgb(image)
    assert got.mode == "RGB" and np.array_equal(pixels(got), pixels(image.convert("RGB")))
    if mode == "L":
        assert pixels(got)[0, :, 0].tolist() == [0, 100]  # 8-bit grey is not stretched to 255


def test_resize_batch_is_h_w_with_the_named_filter():
    rng = np.random.default_rng(2)
    big = Image.fromarray(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8))
    exact = Image.fromarray(rng.integers(0, 256, (3, 5, 3), dtype=np.uint8))  # already (H, W) = (3, 5)
    for name, method in images.RESAMPLE.items():
        got = resize_batch([big, exact], (3, 5), name)
        assert got.dtype == np.uint8 and got.shape == (2, 3, 5, 3)
        assert np.array_equal(got[0], pixels(big.resize((5, 3), method)))
        assert np.array_equal(got[1], pixels(exact))
    assert not np.array_equal(resize_batch([big], (3, 5), "nearest"), resize_batch([big], (3, 5), "bilinear"))
    empty = resize_batch([], (3, 5), "bilinear")
    assert empty.dtype == np.uint8 and empty.shape == (0, 3, 5, 3)
    with pytest.raises(ToolkitError) as e:
        resize_batch([big], (3, 5), "cubic")
    assert str(e.value) == "unknown resample filter 'cubic'; known: nearest, lanczos, bilinear, bicubic, box, hamming"


def test_upsample_is_pils_bilinear_at_w_h():
    heatmap = np.arange(6, dtype=np.float64).reshape(2, 3)
    got = upsample(heatmap, (7, 5))
    want = np.asarray(Image.fromarray(heatmap.astype(np.float32), mode="F").resize((7, 5), Image.Resampling.BILINEAR))
    assert got.dtype == np.float32 and got.shape == (5, 7) and np.array_equal(got, want)


def test_enlarging_is_two_taps_and_shrinking_falls_back_to_pil():
    """The fast path of `upsample_all` holds for every enlargement (PIL's bilinear then touches at most
    two inputs per output); a wrong tap makes `_two_taps` give up, which only PIL's slow path hides."""
    for n_in in (1, 2, 3, 4, 7, 14, 16):
        for n_out in sorted({n_in, n_in + 1, 2 * n_in + 1, 53, 224}):
            if n_out >= n_in:
                assert images._two_taps(n_in, n_out) is not None, (n_in, n_out)
    assert images._two_taps(6, 3) is None and images._two_taps(14, 4) is None
    i0, i1, w0, w1 = images._two_taps(2, 4)
    assert i0.tolist() == [0, 0, 0, 1] and i1.tolist() == [1, 1, 1, 1]
    assert w0.tolist() == [1.0, 0.75, 0.25, 1.0] and w1.tolist() == [0.0, 0.25, 0.75, 0.0]


def test_upsample_all_mixes_enlarging_and_shrinking_axes():
    """One axis enlarged and the other shrunk takes PIL's path; the dtype is float32 on both paths."""
    maps = np.random.default_rng(3).random((3, 4, 6))  # float64 in: float32 out
    sizes = [(61, 2), (3, 300), (32, 32)]  # (W, H): wider only, taller only, both enlarged
    for m, size, got in zip(maps, sizes, upsample_all(maps, sizes)):
        want = upsample(m, size)
        assert got.dtype == np.float32 and got.shape == (size[1], size[0])
        assert np.abs(got - want).max() < 1e-6


# ---- runtime.manifest: the artifact contract, checked field by field ----

LABELS = ["cat", "dog", "fox", "owl"]
SHA = "0123456789abcdef" * 4
MODEL_FILES = {"onnx": "model.onnx", "coreml": "model.mlpackage"}


class ViTForImageClassification:
    """What `build_manifest` reads of a checkpoint's model: its config and its class name."""

    def __init__(self, config):
        self.config = config


def checkpoint() -> SimpleNamespace:
    """A checkpoint's facts, non-square (H 32, W 48) so that a swapped axis shows."""
    config = SimpleNamespace(num_hidden_layers=2, num_attention_heads=3, model_type="vit")
    return SimpleNamespace(model=ViTForImageClassification(config), labels=LABELS, image_size=(32, 48),
                           resample="bicubic", mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3), patch_grid=(4, 6),
                           n_special_tokens=1, source="org/ck", sha256="ab" * 32)


def facts(fmt: str, explain: str, batch: int | None = None) -> dict:
    """What the ONNX and Core ML writers hand `build_manifest` (export/onnx.py, export/coreml.py)."""
    ck, model_file = checkpoint(), MODEL_FILES[fmt]
    if fmt == "onnx":
        return {"model_file": model_file, "outputs": output_specs(explain, ck, batch),
                "input": {"name": "image", "dtype": "uint8", "layout": "NHWC", "color": "RGB", "shape": [batch, 32, 48, 3]},
                "class_input": class_input_spec(explain, "int64", batch),
                "files": {model_file: {"size": 3, "sha256": SHA}}}
    outputs = {n: s for n, s in output_specs(explain, ck, 1).items() if n != "probs"}
    outputs[CLASSIFIER_OUTPUTS[1]] = {"shape": [len(LABELS)], "dtype": "dict[label, float]"}
    outputs[CLASSIFIER_OUTPUTS[0]] = {"shape": [], "dtype": "string"}
    return {"model_file": model_file, "outputs": outputs, "normalisation": "ImageType scale and bias",
            "input": {"name": "image", "dtype": "image", "layout": "NCHW", "color": "RGB", "shape": [1, 3, 32, 48]},
            "class_input": class_input_spec(explain, "int32", 1),
            "files": {f"{model_file}/Manifest.json": {"size": 3, "sha256": SHA}}}


def raw_manifest(fmt: str = "onnx", explain: str = "rollout", batch: int | None = None) -> dict:
    return asdict(build_manifest(checkpoint(), fmt, FORMATS[fmt].precisions[0], explain, facts(fmt, explain, batch),
                                 {"numpy": "2"}))


DELETE = object()


def edited(raw: dict, changes: dict) -> dict:
    """`raw` with each dotted key ("preprocessing.resize") set to its value, or removed (DELETE)."""
    raw = copy.deepcopy(raw)
    for key, value in changes.items():
        *parents, name = key.split(".")
        holder = raw
        for part in parents:
            holder = holder[part]
        if value is DELETE:
            del holder[name]
        else:
            holder[name] = value
    return raw


def test_build_manifest_records_every_fact_as_json_types():
    raw = raw_manifest()
    assert raw == {
        "format": "onnx", "model_file": "model.onnx", "precision": "fp32", "explain": "rollout", "labels": LABELS,
        "input": facts("onnx", "rollout")["input"],
        "preprocessing": {"resize": [32, 48], "resample": "bicubic", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3],
                          "normalisation": "inside the graph"},
        "outputs": {"logits": {"shape": [None, 4], "dtype": "float32"}, "probs": {"shape": [None, 4], "dtype": "float32"},
                    "rollout": {"shape": [None, 4, 6], "dtype": "float32"}},
        "patch_grid": [4, 6], "n_special_tokens": 1, "num_layers": 2, "num_heads": 3,
        "source": {"checkpoint": "org/ck", "sha256": "ab" * 32, "model_type": "vit",
                   "architecture": "ViTForImageClassification"},
        "versions": {"numpy": "2"}, "files": {"model.onnx": {"size": 3, "sha256": SHA}}, "parity": {},
        "class_input": {}, "schema_version": SCHEMA_VERSION}
    assert all(type(raw[k]) is list for k in ("labels", "patch_grid"))
    assert all(type(raw["preprocessing"][k]) is list for k in ("resize", "mean", "std"))
    coreml = raw_manifest("coreml", "gradrollout")
    assert coreml["preprocessing"]["normalisation"] == "ImageType scale and bias"
    assert coreml["class_input"]["name"] == "target" and coreml["class_input"]["dtype"] == "int32"
    bare = build_manifest(checkpoint(), "onnx", "fp32", "none", {k: v for k, v in facts("onnx", "none").items()
                                                                 if k in ("model_file", "input", "outputs")}, {})
    assert bare.files == {} and bare.class_input == {} and bare.parity == {}


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("explain", list(EXPLAIN))
def test_what_the_writers_describe_passes(fmt, explain):
    assert field_problems(raw_manifest(fmt, explain)) == []
    assert field_problems(raw_manifest(fmt, explain, batch=1)) == []


def test_manifest_properties():
    assert Manifest(**raw_manifest()).image_size == (32, 48)
    assert [Manifest(**raw_manifest(explain=k)).heatmap_output for k in EXPLAIN] == ["rollout", "rollout", "relevance",
                                                                                     None]


SHAPE_MISMATCH = "input.shape [None, 32, 48, 3] does not take RGB images of preprocessing.resize {}"
SPEC = 'outputs[{!r}] must be {{"shape": [sizes or null], "dtype": name}}'
CLASS_SPEC = "class_input must be {name 'target', dtype int64 or int32, shape [batch], predicted -1}"
RE_EXPORT = "schema_version {!r}; this runtime reads 4: re-export the model with this version"
UPGRADE = "schema_version {!r}; this runtime reads 4: upgrade explainable-vit"
PLAIN_NAME = "model_file {!r} must be a plain file name inside the artifact folder"
FILES = "files: files must map every file of the model to its size and sha256"
PROBLEMS = [  # (format, explain, changes, every problem field_problems must list, in order)
    ("onnx", "rollout", {"labels": DELETE}, ["missing field 'labels'"]),
    ("onnx", "rollout", {"labels": DELETE, "extra": 1, "format": "tflite"},
     ["missing field 'labels'", "unknown field 'extra'"]),
    ("onnx", "rollout", {"files": DELETE}, [FILES]),
    ("onnx", "rollout", {"files": {}}, [FILES]),
    ("onnx", "rollout", {"files": {"../x": {"size": 1, "sha256": SHA}}},
     ["files: file name '../x' must be a relative path inside the artifact folder"]),
    ("onnx", "rollout", {"class_input": DELETE, "parity": DELETE, "schema_version": DELETE}, []),
    ("onnx", "rollout", {"schema_version": 3, "format": "tflite"}, [RE_EXPORT.format(3)]),
    ("onnx", "rollout", {"schema_version": 5}, [UPGRADE.format(5)]),
    ("onnx", "rollout", {"schema_version": "4"}, [UPGRADE.format("4")]),
    ("onnx", "rollout", {"schema_version": 3, "num_heads": DELETE}, ["missing field 'num_heads'", RE_EXPORT.format(3)]),
    ("onnx", "rollout", {"format": 7}, ["format, precision and explain must be names"]),
    ("onnx", "rollout", {"precision": None}, ["format, precision and explain must be names"]),
    ("onnx", "rollout", {"explain": ["rollout"]}, ["format, precision and explain must be names"]),
    *[("onnx", "rollout", {"model_file": v}, [PLAIN_NAME.format(v)]) for v in ("", ".", "..", "a/m.onnx", "a\\m.onnx", 3)],
    ("onnx", "rollout", {"format": "tflite"}, ["format 'tflite'; known: onnx, coreml", SHAPE_MISMATCH.format([32, 48])]),
    ("onnx", "rollout", {"precision": "fp64"}, ["precision 'fp64' for onnx; known: fp32, fp16, int8"]),
    ("coreml", "rollout", {"precision": "fp64"}, ["precision 'fp64' for coreml; known: fp16, fp32, int8"]),
    ("onnx", "rollout", {"explain": "magic", "outputs": {}},
     ["explain 'magic'; known: rollout, attentions, gradrollout, none"]),
    *[("onnx", "rollout", {"labels": v}, ["labels must be a list of at least two non-empty class names"])
      for v in ("ab", ["a"], ["a", ""], ["a", 3])],
    ("onnx", "rollout", {"labels": ["a", "b"]}, []),  # two classes are enough
    ("onnx", "rollout", {"labels": list("bacbaeddcefgfg")},
     ["labels must be unique; named more than once: 'a', 'b', 'c', 'd', 'e'"]),
    ("onnx", "rollout", {"labels": list("zbbacc")}, ["labels must be unique; named more than once: 'b', 'c'"]),
    *[("onnx", "rollout", {"patch_grid": v}, ["patch_grid must be two positive integers"])
      for v in ([4], [4, 0], [4, True], [4, 6.0], "4x6", [4, 6, 1])],
    *[("onnx", "rollout", {name: v}, [f"{name} must be a positive integer"])
      for name in ("num_layers", "num_heads") for v in (0, True, "2", 2.0)],
    *[("onnx", "rollout", {"n_special_tokens": v},
       [f"n_special_tokens {v!r}; a ViT has 1 (CLS), a DeiT 1 or 2 (CLS + distillation)"]) for v in (0, 3, True)],
    ("onnx", "rollout", {"n_special_tokens": 2}, []),
    ("onnx", "rollout", {"preprocessing": "bilinear"}, ["preprocessing must be an object"]),
    ("onnx", "rollout", {"preprocessing.resample": "cubic"},
     ["preprocessing.resample 'cubic'; known: nearest, lanczos, bilinear, bicubic, box, hamming"]),
    ("onnx", "rollout", {"preprocessing.resample": DELETE},
     ["preprocessing.resample None; known: nearest, lanczos, bilinear, bicubic, box, hamming"]),
    *[("onnx", "rollout", {"preprocessing.resize": v},
       ["preprocessing.resize must be two positive integers [H, W]", SHAPE_MISMATCH.format(v)])
      for v in ([32], [32, 0], [32, True], [32, 48, 3])],
    ("onnx", "rollout", {"preprocessing.resize": [32, 48.0]}, ["preprocessing.resize must be two positive integers [H, W]"]),
    ("onnx", "rollout", {"preprocessing.resize": [48, 32]}, [SHAPE_MISMATCH.format([48, 32])]),
    ("onnx", "rollout", {"preprocessing.resize": DELETE}, ["preprocessing.resize must be two positive integers [H, W]"]),
    *[("onnx", "rollout", {"preprocessing.mean": v}, ["preprocessing.mean must be three finite numbers"])
      for v in ([0.5, 0.4], [0.5, float("nan"), 0.3], [0.5, float("inf"), 0.3], [0.5, True, 0.3], [0.5, "0.4", 0.3],
                "0.5", DELETE)],
    ("onnx", "rollout", {"preprocessing.mean": [-1, 0, 2.5]}, []),
    *[("onnx", "rollout", {"preprocessing.std": v}, ["preprocessing.std must be three finite numbers > 0"])
      for v in ([0.2, 0, 0.3], [0.2, -0.1, 0.3], [0.2, float("inf"), 0.3], [0.2, 0.3])],
    ("onnx", "rollout", {"preprocessing.std": [1, 1, 1]}, []),
    *[("onnx", "rollout", {"input": v}, ["input must be an object with a name"])
      for v in ("image", {"dtype": "uint8"}, {"name": ""}, {"name": 3})],
    ("onnx", "rollout", {"input.dtype": "float32"}, ["input dtype/layout 'float32'/'NHWC'; a onnx graph takes uint8/NHWC"]),
    ("onnx", "rollout", {"input.layout": "NCHW"}, ["input dtype/layout 'uint8'/'NCHW'; a onnx graph takes uint8/NHWC"]),
    ("coreml", "rollout", {"input.dtype": "uint8"}, ["input dtype/layout 'uint8'/'NCHW'; a coreml graph takes image/NCHW"]),
    *[("onnx", "rollout", {"input.shape": v}, ["input.shape must have four dimensions"])
      for v in ([None, 32, 48], "NHWC", DELETE)],
    *[("onnx", "rollout", {"input.shape": [b, 32, 48, 3]},
       [f"input batch {b!r} must be a positive integer (or null: dynamic)"]
       + [f"outputs[{n!r}] batch None differs from the input's {b!r}" for n in ("logits", "probs", "rollout")])
      for b in (0, True, "1")],
    ("onnx", "rollout", {"input.shape": [2, 32, 48, 3]},
     [f"outputs[{n!r}] batch None differs from the input's 2" for n in ("logits", "probs", "rollout")]),
    *[("onnx", "rollout", {"input.shape": v},
       [f"input.shape {v} does not take RGB images of preprocessing.resize [32, 48]"])
      for v in ([None, 32, 48, 4], [None, 48, 32, 3], [None, 3, 32, 48])],
    *[("coreml", "rollout", {"input.shape": v},
       [f"input.shape {v} does not take RGB images of preprocessing.resize [32, 48]"])
      for v in ([1, 4, 32, 48], [1, 3, 48, 32], [1, 32, 48, 3])],
    ("onnx", "rollout", {"class_input": {"name": "target"}},
     ["class_input given for explain 'rollout': only gradrollout graphs take a class"]),
    *[("onnx", "gradrollout", {key: v}, [CLASS_SPEC]) for key, v in (
        ("class_input", {}), ("class_input", "target"), ("class_input.name", "cls"),
        ("class_input.dtype", "float32"), ("class_input.shape", [1]), ("class_input.shape", None),
        ("class_input.predicted", 0), ("class_input.predicted", DELETE))],
    ("onnx", "gradrollout", {"class_input.dtype": "int32"}, []),
    ("onnx", "rollout", {"outputs": []}, ["outputs must be an object"]),
    ("onnx", "rollout", {"outputs.rollout": DELETE},
     ["outputs ['logits', 'probs']; onnx rollout graphs of 2 layers have ['logits', 'probs', 'rollout']"]),
    ("onnx", "attentions", {"num_layers": 3},
     ["outputs ['attention_0', 'attention_1', 'logits', 'probs', 'rollout']; onnx attentions graphs of 3 layers have "
      "['attention_0', 'attention_1', 'attention_2', 'logits', 'probs', 'rollout']"]),
    ("onnx", "attentions", {"num_layers": 0}, ["num_layers must be a positive integer"]),
    ("coreml", "none", {"outputs.probs": {"shape": [1, 4], "dtype": "float32"}},
     ["outputs ['classLabel', 'classLabel_probs', 'logits', 'probs']; coreml none graphs of 2 layers have "
      "['classLabel', 'classLabel_probs', 'logits']"]),
    *[("onnx", "rollout", {"outputs.logits": v}, [SPEC.format("logits")]) for v in (
        "float32", {"shape": [None, 4]}, {"shape": [None, 4], "dtype": 3}, {"shape": "N,4", "dtype": "float32"},
        {"shape": [None, -1], "dtype": "float32"}, {"shape": [None, True], "dtype": "float32"},
        {"shape": [None, 4.0], "dtype": "float32"})],
    ("onnx", "rollout", {"outputs.logits.shape": [None, 0]}, []),
    ("onnx", "rollout", {"outputs.logits.shape": [1, 4]}, ["outputs['logits'] batch 1 differs from the input's None"]),
    ("onnx", "rollout", {"outputs.logits.shape": [4]}, []),  # one dimension: no batch to compare
    ("onnx", "rollout", {"labels": ["a"], "precision": "fp64", "preprocessing.std": [0, 1, 1], "input.dtype": "int8",
                         "files": {}},
     ["precision 'fp64' for onnx; known: fp32, fp16, int8", "labels must be a list of at least two non-empty class names",
      "preprocessing.std must be three finite numbers > 0",
      "input dtype/layout 'int8'/'NHWC'; a onnx graph takes uint8/NHWC", FILES]),
]


@pytest.mark.parametrize("fmt, explain, changes, expected", PROBLEMS, ids=[
    f"{i}-{fmt}-{explain}-{'+'.join(changes)}" for i, (fmt, explain, changes, _) in enumerate(PROBLEMS)])
def test_every_problem_is_named_exactly(fmt, explain, changes, expected):
    assert field_problems(edited(raw_manifest(fmt, explain), changes)) == expected


def artifact(folder: Path, raw: dict | None = None) -> Path:
    """An ONNX artifact folder as far as the manifest sees it: manifest.json and a model file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(b"abc")
    (folder / MANIFEST).write_text(json.dumps(raw_manifest() if raw is None else raw))
    return folder


def manifest_error(folder) -> str:
    with pytest.raises(ManifestError) as e:
        read_manifest(folder)
    return str(e.value)


def test_read_manifest_returns_what_was_written(tmp_path):
    m = Manifest(**raw_manifest())
    path = write_manifest(m, artifact(tmp_path / "a"))
    assert path == tmp_path / "a" / MANIFEST and path.read_text() == json.dumps(asdict(m), indent=2)
    assert read_manifest(tmp_path / "a") == m
    assert read_manifest(str(tmp_path / "a")) == m


def test_read_manifest_lists_every_field_problem_with_its_path(tmp_path):
    raw = edited(raw_manifest(), {"labels": ["a"], "precision": "fp64"})
    folder = artifact(tmp_path / "a", raw)
    with pytest.raises(ManifestError) as e:
        read_manifest(folder)
    assert e.value.problems == [f"{folder / MANIFEST}: {p}" for p in field_problems(raw)] and len(e.value.problems) == 2


def test_a_missing_model_file_is_refused_but_a_link_is_left_to_the_seal(tmp_path):
    folder = artifact(tmp_path / "a")
    (folder / "model.onnx").unlink()
    assert manifest_error(folder) == f"{folder / MANIFEST}: model file 'model.onnx' is missing"
    (folder / "model.onnx").symlink_to(tmp_path / "nowhere")  # dangling: verify_files names it as a link
    assert read_manifest(folder).model_file == "model.onnx"


def test_manifest_json_that_is_not_a_manifest(tmp_path):
    folder = artifact(tmp_path / "a")
    path = folder / MANIFEST
    for text, what in [(b"{", "is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 "
                             "(char 1)"),
                       (b'{"a": "\xff"}', "is not valid JSON: 'utf-8' codec can't decode byte 0xff in position 7: "
                                          "invalid start byte"),
                       (b"[" * 100_000, "is nested too deeply to be a manifest"),
                       (b"[1, 2]", "is not a JSON object")]:
        path.write_bytes(text)
        assert manifest_error(folder) == f"{path} {what}"


def test_manifest_json_that_is_not_a_regular_file(tmp_path):
    assert manifest_error(tmp_path) == f"{tmp_path} has no {MANIFEST}: not an export artifact folder"
    path = tmp_path / MANIFEST
    path.mkdir()
    assert manifest_error(tmp_path) == f"{path} is a folder; a manifest is a regular file of the artifact"
    path.rmdir()
    os.mkfifo(path)
    assert manifest_error(tmp_path) == f"{path} is a FIFO; a manifest is a regular file of the artifact"
    path.unlink()
    path.symlink_to(artifact(tmp_path / "elsewhere") / MANIFEST)
    assert manifest_error(tmp_path) == f"{path} is a symbolic link; a manifest is a regular file of the artifact"
    (tmp_path / "file").write_text("x")
    assert manifest_error(tmp_path / "file") == f"{tmp_path / 'file' / MANIFEST} cannot be read (Not a directory)"


def test_a_manifest_over_the_size_cap_is_refused(tmp_path):
    folder = artifact(tmp_path / "a")
    (folder / MANIFEST).write_bytes(b" " * (mf.MAX_MANIFEST_BYTES + 1))
    assert manifest_error(folder) == f"{folder / MANIFEST} is larger than 8 MiB: not a manifest this toolkit wrote"
    (folder / MANIFEST).write_bytes(json.dumps(raw_manifest()).encode().ljust(mf.MAX_MANIFEST_BYTES))
    assert read_manifest(folder).format == "onnx"  # exactly at the cap: read


def test_the_size_cap_is_the_manifest_modules_own(tmp_path, monkeypatch):
    monkeypatch.setattr(mf, "MAX_MANIFEST_BYTES", 1 << 20)
    folder = artifact(tmp_path / "a")
    (folder / MANIFEST).write_bytes(json.dumps(raw_manifest()).encode().ljust((1 << 20) + 1))
    assert manifest_error(folder) == f"{folder / MANIFEST} is larger than 1 MiB: not a manifest this toolkit wrote"
    assert not is_artifact_folder(folder)


def test_is_artifact_folder_asks_only_for_format_model_file_and_schema_version(tmp_path):
    folder = tmp_path / "a"
    assert not is_artifact_folder(folder)
    folder.mkdir()
    for text, ours in [('{"format": 1, "model_file": 2, "schema_version": 1}', True),
                       ('{"format": 1, "model_file": 2, "schema_version": 1, "more": 3}', True),
                       ('{"format": 1, "model_file": 2}', False), ('{"model_file": 2, "schema_version": 1}', False),
                       ('{"format": 1, "schema_version": 1}', False), ('["format", "model_file", "schema_version"]', False),
                       ("{", False), ("[" * 100_000, False)]:
        (folder / MANIFEST).write_text(text)
        assert is_artifact_folder(folder) is ours, text
    (folder / MANIFEST).write_bytes(b'{"format": "\xff", "model_file": 2, "schema_version": 1}')
    assert not is_artifact_folder(folder)  # not UTF-8: not ours


def record(data: bytes) -> dict:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_seal_model_records_the_model_and_its_external_data_only(tmp_path):
    folder = artifact(tmp_path / "onnx")
    (folder / "model.onnx.data").write_bytes(b"weights")
    (folder / ".DS_Store").write_bytes(b"finder")
    assert seal_model(folder, "model.onnx") == {"model.onnx": record(b"abc"), "model.onnx.data": record(b"weights")}
    assert list(seal_model(str(folder), "model.onnx")) == ["model.onnx", "model.onnx.data"]
    package = tmp_path / "coreml"
    (package / "model.mlpackage" / "Data").mkdir(parents=True)
    (package / "model.mlpackage" / "Manifest.json").write_bytes(b"{}")
    (package / "model.mlpackage" / "Data" / "weight.bin").write_bytes(b"w")
    (package / "notes.txt").write_text("beside the package: not part of the model")
    assert seal_model(package, "model.mlpackage") == {"model.mlpackage/Data/weight.bin": record(b"w"),
                                                      "model.mlpackage/Manifest.json": record(b"{}")}


def test_verify_files_names_each_change_and_what_to_do(tmp_path):
    folder = artifact(tmp_path / "a")
    (folder / "model.onnx.data").write_bytes(b"weights")
    m = Manifest(**{**raw_manifest(), "files": seal_model(folder, "model.onnx")})
    assert verify_files(folder, m) is None and verify_files(str(folder), m) is None
    (folder / "model.onnx.data").write_bytes(b"WEIGHTS")
    with pytest.raises(ArtifactError) as e:
        verify_files(folder, m)
    assert len(e.value.problems) == 2 and "model.onnx.data" in e.value.problems[0]
    assert e.value.problems[-1] == "re-export the model, or copy the artifact folder whole"
    assert not isinstance(e.value, ManifestError)


# ---- xai.metrics.perturbation and bench's parity figures ----

def test_perturbation_curve_scores_each_image_against_its_own_label():
    """Three images whose answers differ: a curve built from one prediction for the batch, or from
    the batch's first answer, would score them alike."""
    from xai.metrics import perturbation

    def forward(images):  # class 1 while pixel (0, 0) is lit, else class 0
        p1 = np.where(images[:, 0, 0].max(-1) > 0, 0.9, 0.1)
        return np.stack([1 - p1, p1], axis=1)

    images = np.zeros((3, 4, 4, 3), np.uint8)
    images[:2] = 255
    maps = np.ones((3, 4, 4))
    maps[:, 0, 0] = 0  # pixel (0, 0) is the least relevant: never among the 90% removed
    curve = perturbation.perturbation_curve(forward, images, maps, np.array([1, 0, 1]), positive=True)
    assert curve.dtype == np.float64 and curve.shape == (10, 3)
    assert curve[0].tolist() == [1.0, 0.0, 0.0]  # lit and 1: right; lit but 0: wrong; dark but 1: wrong
    assert curve.tolist() == [[1.0, 0.0, 0.0]] * 10
    negative = perturbation.perturbation_curve(forward, images, maps, np.array([1, 0, 1]), positive=False)
    assert negative.tolist() == [[1.0, 0.0, 0.0]] + [[0.0, 1.0, 0.0]] * 9  # (0, 0) goes first: lit images read 0


def test_heatmap_parity_hand_computed():
    from bench.run import heatmap_parity

    a = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    corr, iou = heatmap_parity(a, np.array([[[1.0, 2.0], [4.0, 3.0]]]), top=0.5)
    assert corr.tolist() == pytest.approx([0.8]) and iou.tolist() == [1.0]  # same top half, another order
    corr, iou = heatmap_parity(a, np.array([[[1.0, 2.0], [4.0, 3.0]]]), top=0.25)
    assert iou.tolist() == [0.0]  # the top patch differs
    corr, iou = heatmap_parity(np.ones((1, 2, 2)), a)
    assert corr.tolist() == [0.0]  # a constant map correlates with nothing (no division by zero)
    grid = np.arange(9.0).reshape(1, 3, 3)
    swapped = grid.copy()
    swapped[0, 2, 1:] = [8.0, 7.0]
    assert heatmap_parity(grid, swapped)[1].tolist() == [0.0]  # 10% of 9 patches: the top one, never fewer than 1
    two = np.stack([a[0], -a[0]]), np.stack([a[0], a[0]])
    corr, iou = heatmap_parity(*two)
    assert corr.tolist() == pytest.approx([1.0, -1.0]) and iou.tolist() == [1.0, 0.0]  # per image, in order


def test_quality_row_compares_with_the_reference_only_when_given():
    from bench.run import heatmap_parity, quality

    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 4.0], [5.0, 1.0, 0.0]])  # predicts 0, 1, 2, 0
    targets = np.array([0, 1, 1, 2])
    reference = {"logits": np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 4.0], [0.0, 1.0, 5.0]])}
    maps = np.random.default_rng(4).random((4, 3, 3))
    reference_maps = maps.copy()
    reference_maps[1] = 1 - maps[1]  # one image's map inverted: correlation -1, no top patch shared
    scores = {"accuracy": 0.5, "macro_f1": pytest.approx(4 / 9)}  # F1 2/3, 2/3, 0 over the 3 classes
    assert quality(logits, targets, None, None, None) == scores
    assert quality(logits, targets, None, maps, None) == scores
    assert quality(logits, targets, None, None, reference_maps) == scores
    corr, iou = heatmap_parity(maps, reference_maps)
    assert corr.min() < corr.mean() < 1 and 0 < iou.mean() < 1
    row = quality(logits, targets, reference, maps, reference_maps)
    assert row == {**scores, "agreement": 0.75, "max_abs_logit_diff": 5.0, "heatmap_corr": pytest.approx(corr.mean()),
                   "heatmap_corr_min": pytest.approx(corr.min()), "heatmap_iou_top10": pytest.approx(iou.mean())}
    assert all(type(v) is float for v in row.values())


def test_mutation_results_count_each_status_per_file():
    """scripts/mutation_results.py reads `mutmut results --all true`; mutants not run are left out."""
    from scripts.mutation_results import COLUMNS, counts, rows

    found = counts("    runtime.images.x_to_rgb__mutmut_1: killed\n    runtime.images.x__rgb__mutmut_2: survived\n"
                   "    runtime.images.x__rgb__mutmut_3: killed\n    bench.run.x_quality__mutmut_1: no tests\n"
                   "    bench.run.x_run_bench__mutmut_9: not checked\n    runtime.manifest.xǁManifestǁa__mutmut_1: timeout\n"
                   "    bench.run.x_quality__mutmut_2: suspicious\n    xai.metrics.xǁMetricǁapplies__mutmut_1: killed\n")
    table = rows(found, {"bench.run": "quality"})
    assert table == [
        {"file": "runtime/images.py", "mutants": 3, "killed": 2, "survived": 1, "timeout": 0, "no_tests": 0,
         "other": 0, "score": 2 / 3},
        {"file": "bench/run.py (quality)", "mutants": 2, "killed": 0, "survived": 0, "timeout": 0, "no_tests": 1,
         "other": 1, "score": 0.0},
        {"file": "runtime/manifest.py", "mutants": 1, "killed": 0, "survived": 0, "timeout": 1, "no_tests": 0,
         "other": 0, "score": 0.0},
        {"file": "xai/metrics/__init__.py", "mutants": 1, "killed": 1, "survived": 0, "timeout": 0, "no_tests": 0,
         "other": 0, "score": 1.0}]  # a package's own code: its __init__.py
    assert {c["key"] for c in COLUMNS} == set(table[0])
