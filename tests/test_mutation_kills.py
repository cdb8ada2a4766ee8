"""Fast tests that pin down what `runtime.images` and `runtime.manifest` do, written against the
mutants `make mutation` (mutmut) left alive: each names the behaviour a wrong operator, constant,
argument or message would break. No export and no model: pure functions on small inputs."""
from __future__ import annotations

import copy
import errno
import json
import os
import socket
import stat
import struct
import tempfile
import warnings
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from runtime import images
from runtime.images import (MAX_PIXELS, MAX_SIDE, ImageLoadError, describe, resize_batch, to_rgb, upsample,
                            upsample_all)
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


def test_upsample_all_mixes_enlarging_and_shrinking_axes():
    """One axis enlarged and the other shrunk takes PIL's path; the dtype is float32 on both paths."""
    maps = np.random.default_rng(3).random((3, 4, 6))  # float64 in: float32 out
    sizes = [(61, 2), (3, 300), (32, 32)]  # (W, H): wider only, taller only, both enlarged
    for m, size, got in zip(maps, sizes, upsample_all(maps, sizes)):
        want = upsample(m, size)
        assert got.dtype == np.float32 and got.shape == (size[1], size[0])
        assert np.abs(got - want).max() < 1e-6
