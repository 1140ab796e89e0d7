"""Image and NPArray: lossless, immutable, equal (with equal digests) exactly when their content is.

The store round trips are in tests/store/test_media.py.
"""

from __future__ import annotations

import copy
import io
import pickle
import struct
import subprocess
import sys
import zlib
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

import enact_resource as er

# --- NPArray: strategies ----------------------------------------------------------

DTYPES = st.one_of(
    hnp.scalar_dtypes(),
    hnp.integer_dtypes(endianness="?"),
    hnp.unsigned_integer_dtypes(endianness="?"),
    hnp.floating_dtypes(endianness="?"),
    hnp.complex_number_dtypes(endianness="?"),
    hnp.byte_string_dtypes(),
    hnp.unicode_string_dtypes(endianness="?"),
    hnp.datetime64_dtypes(endianness="?"),
    hnp.array_dtypes(allow_subarrays=True),
)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
ARRAYS = hnp.arrays(dtype=DTYPES, shape=SHAPES)


@st.composite
def array_views(draw: st.DrawFn) -> np.ndarray:
    """Arrays, and non-contiguous views of them (strided, transposed, reversed)."""
    array = draw(ARRAYS)
    view = draw(st.sampled_from(["whole", "transposed", "strided", "reversed", "fortran"]))
    if array.ndim == 0 or view == "whole":
        return array
    if view == "transposed":
        return array.T
    if view == "strided":
        return array[::2]
    if view == "reversed":
        return array[::-1]
    return np.asfortranarray(array)


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --- NPArray: lossless, with digests equal exactly when the arrays are ----------------


@settings(max_examples=300, deadline=None)
@given(array=array_views())
def test_nparray_returns_the_array_bit_for_bit(array: np.ndarray) -> None:
    wrapped = er.NPArray(array)
    got = wrapped.array
    assert _same_array(got, array)
    assert got.dtype.str == array.dtype.str  # byte order kept


@settings(max_examples=300, deadline=None)
@given(array=array_views())
def test_nparray_equal_arrays_have_equal_digests_whatever_their_layout(array: np.ndarray) -> None:
    copies = [array.copy(order="C"), array.copy(order="F"), array.copy(order="K")]
    for same in copies:
        assert er.NPArray(same) == er.NPArray(array)
        assert er.digest(er.NPArray(same)) == er.digest(er.NPArray(array))
        assert hash(er.NPArray(same)) == hash(er.NPArray(array))


@settings(max_examples=200, deadline=None)
@given(array=array_views(), compact=st.booleans())
def test_nparray_round_trips_through_the_serializer(array: np.ndarray, compact: bool) -> None:
    wrapped = er.NPArray(array)
    serializer = er.JsonSerializer(compact=compact)
    back = serializer.deserialize(serializer.serialize(wrapped.to_resource_dict())).to_resource()
    assert back == wrapped
    assert er.digest(back) == er.digest(wrapped)
    assert _same_array(back.array, array)


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from(["<f2", "<f4", ">f8", "<c8", "<i4", "|u1", "<M8[s]"]),
)
def test_nparray_digests_differ_when_any_bit_differs(data: st.DataObject, dtype: str) -> None:
    # Raw bit patterns: NaN payloads, signed zeros, subnormals all occur.
    size = np.dtype(dtype).itemsize
    count = data.draw(st.integers(1, 4))
    raw = data.draw(st.binary(min_size=count * size, max_size=count * size))
    other = data.draw(st.binary(min_size=len(raw), max_size=len(raw)))
    a = np.frombuffer(raw, dtype)
    b = np.frombuffer(other, dtype)
    assert (er.NPArray(a) == er.NPArray(b)) == (raw == other)
    assert (er.digest(er.NPArray(a)) == er.digest(er.NPArray(b))) == (raw == other)


def test_nparray_keeps_nan_payloads_and_signed_zeros() -> None:
    quiet = np.array([np.nan], "<f8")
    payload = np.frombuffer(struct.pack("<Q", 0x7FF8_0000_0000_0001), "<f8")
    assert er.NPArray(quiet) != er.NPArray(payload)
    assert er.NPArray(payload).array.tobytes() == payload.tobytes()
    assert er.NPArray(np.array([np.nan])) == er.NPArray(np.array([np.nan]))  # same payload
    assert er.NPArray(np.array(0.0)) != er.NPArray(np.array(-0.0))
    assert np.signbit(er.NPArray(np.array(-0.0)).array)


def test_nparray_dtype_shape_and_byte_order_are_part_of_the_value() -> None:
    values = np.arange(6, dtype="<i4")
    assert er.NPArray(values) != er.NPArray(values.astype(">i4"))
    assert er.NPArray(values.reshape(2, 3)) != er.NPArray(values.reshape(3, 2))
    assert er.NPArray(values.view("<u4")) != er.NPArray(values)  # same bytes, other dtype
    assert er.NPArray(np.array(5)) != er.NPArray(np.array([5]))  # 0-d is not 1-d
    assert er.digest(er.NPArray(np.array(5))) != er.digest(er.NPArray(np.array([5])))


def test_nparray_zero_dim_and_empty_arrays_round_trip() -> None:
    for array in (
        np.array(3.5, "f4"),
        np.zeros((0,), "f8"),
        np.zeros((2, 0, 3), "i2"),
        np.zeros((3,), "S0"),
        np.zeros((2,), np.dtype([])),
    ):
        got = er.NPArray(array).array
        assert got.shape == array.shape
        assert got.dtype == array.dtype


def test_nparray_structured_dtypes_round_trip() -> None:
    point = np.dtype([("x", "<f4"), ("y", ">i8"), ("tag", "S3"), ("m", "<f2", (2, 2))])
    aligned = np.dtype([("a", "u1"), ("b", "<f8")], align=True)
    nested = np.dtype([("inner", [("p", "<i2"), ("q", "|b1")]), ("z", "<c8")])
    titled = np.dtype([(("the title", "x"), "<f4"), ("y", "u1")])
    for dtype in (point, aligned, nested, titled):
        array = np.zeros(3, dtype)
        array.view("u1")[:] = np.arange(array.nbytes, dtype="u1") % 251
        got = er.NPArray(array).array
        assert got.dtype == dtype
        assert got.tobytes() == array.tobytes()


# --- NPArray: what it refuses ---------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.array([object(), None], dtype=object),
        np.zeros(2, [("x", "f4"), ("o", "O")]),
        np.array(["a", "bb"], dtype=np.dtypes.StringDType()),
        np.zeros(1, {"names": ["a", "b"], "formats": ["<i4", "<i4"], "offsets": [0, 0]}),
    ],
    ids=["object", "struct-with-object", "StringDType", "overlapping-fields"],
)
def test_nparray_rejects_dtypes_whose_bytes_are_not_the_values(array: np.ndarray) -> None:
    with pytest.raises(er.SerializationError, match="NPArray cannot store dtype"):
        er.NPArray(array)


@pytest.mark.parametrize(
    "value", [[1, 2, 3], np.float32(1.5), np.ma.masked_array([1, 2], mask=[0, 1]), "x"]
)
def test_nparray_rejects_what_is_not_a_plain_ndarray(value: Any) -> None:
    with pytest.raises(er.FieldTypeError, match=r"NPArray wraps a numpy.ndarray"):
        er.NPArray(value)


def test_nparray_rejects_bytes_that_do_not_fit_dtype_and_shape() -> None:
    bad = er.NPArray.from_fields({"dtype": "<f4", "shape": [3], "data": b"\0" * 8})
    with pytest.raises(er.DeserializationError, match="holds 8 bytes"):
        _ = bad.array
    with pytest.raises(er.FieldTypeError, match="shape"):
        er.NPArray.from_fields({"dtype": "<f4", "shape": [-1], "data": b""})
    with pytest.raises(er.FieldTypeError, match="must be str and bytes"):
        er.NPArray.from_fields({"dtype": 4, "shape": [1], "data": b"\0" * 4})


# --- NPArray: immutable -------------------------------------------------------------


def test_nparray_is_a_snapshot_of_the_array() -> None:
    array = np.arange(4.0)
    wrapped = er.NPArray(array)
    array[0] = 99.0
    assert wrapped.array[0] == 0.0


def test_nparray_array_is_read_only() -> None:
    got = er.NPArray(np.arange(4.0)).array
    with pytest.raises(ValueError, match="read-only"):
        got[0] = 1.0
    with pytest.raises(ValueError, match="WRITEABLE"):
        got.flags.writeable = True
    mine = got.copy()
    mine[0] = 1.0  # a copy is yours to change
    assert er.NPArray(np.arange(4.0)).array[0] == 0.0


def test_nparray_has_no_settable_fields() -> None:
    wrapped = er.NPArray(np.arange(3))
    with pytest.raises(AttributeError):
        wrapped.shape = (1, 3)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        wrapped.array = np.zeros(3)  # type: ignore[misc]
    assert wrapped.deep_copy_resource() == wrapped


def test_nparray_repr_is_compact() -> None:
    assert repr(er.NPArray(np.zeros((3, 4), "f4"))) == "<NPArray float32[3, 4]>"
    assert repr(er.NPArray(np.array(1, "i8"))) == "<NPArray int64[]>"
    assert repr(er.NPArray(np.zeros(2, "?"))) == "<NPArray bool[2]>"
    assert repr(er.NPArray(np.zeros(2, "M8[ns]"))) == "<NPArray datetime64[ns][2]>"
    non_native = ">f4" if sys.byteorder == "little" else "<f4"
    assert repr(er.NPArray(np.zeros(2, non_native))) == f"<NPArray {non_native}[2]>"
    assert repr(er.NPArray(np.zeros(2, [("x", "f4"), ("y", "i8")]))) == "<NPArray struct{x, y}[2]>"


# --- Image ----------------------------------------------------------------------------

# Pixel bytes per pixel (bits for mode 1) of the modes Image keeps.
_BYTES_PER_PIXEL = {"L": 1, "LA": 2, "I;16": 2, "RGB": 3, "RGBA": 4, "P": 1}


@st.composite
def pil_images(draw: st.DrawFn, modes: list[str] | None = None) -> PILImage.Image:
    mode = draw(st.sampled_from(modes or ["1", *_BYTES_PER_PIXEL]))
    width = draw(st.integers(1, 12))
    height = draw(st.integers(1, 12))
    # Mode 1 packs 8 pixels a byte, each row padded to a whole byte.
    size = (width + 7) // 8 * height if mode == "1" else width * height * _BYTES_PER_PIXEL[mode]
    raw = draw(st.binary(min_size=size, max_size=size))
    if mode == "1":  # the pad bits of each row are not pixels
        image = PILImage.frombytes("1", (width, height), raw)
    elif mode == "P":
        colours = draw(st.integers(1, 256))
        raw = bytes(b % colours for b in raw)
        image = PILImage.frombytes("P", (width, height), raw)
        image.putpalette(draw(st.binary(min_size=3 * colours, max_size=3 * colours)))
    else:
        image = PILImage.frombytes(mode, (width, height), raw)
    return image


def _same_image(a: PILImage.Image, b: PILImage.Image) -> bool:
    return (
        a.mode == b.mode
        and a.size == b.size
        and a.tobytes() == b.tobytes()
        and a.getpalette() == b.getpalette()
    )


@settings(max_examples=200, deadline=None)
@given(image=pil_images())
def test_image_returns_the_image_exactly(image: PILImage.Image) -> None:
    wrapped = er.Image(image)
    assert _same_image(wrapped.image, image)
    assert wrapped.size == image.size
    assert wrapped.mode == image.mode


@settings(max_examples=100, deadline=None)
@given(image=pil_images(), compact=st.booleans())
def test_image_round_trips_through_the_serializer(image: PILImage.Image, compact: bool) -> None:
    wrapped = er.Image(image)
    serializer = er.JsonSerializer(compact=compact)
    back = serializer.deserialize(serializer.serialize(wrapped.to_resource_dict())).to_resource()
    assert back == wrapped
    assert er.digest(back) == er.digest(wrapped)
    assert _same_image(back.image, image)


@settings(max_examples=100, deadline=None)
@given(image=pil_images(["L", "RGB", "RGBA", "P"]), level=st.sampled_from([0, 1, 6, 9]))
def test_image_digest_depends_on_the_pixels_not_on_the_png_file_they_came_from(
    image: PILImage.Image, level: int
) -> None:
    # The same pixels, through a PNG file that Pillow (and its zlib) compressed.
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=level, optimize=False)
    reopened = PILImage.open(io.BytesIO(buffer.getvalue()))
    assert er.Image(reopened) == er.Image(image)
    assert er.digest(er.Image(reopened)) == er.digest(er.Image(image))


def test_image_digest_ignores_metadata() -> None:
    plain = PILImage.new("RGB", (4, 3), (10, 20, 30))
    annotated = plain.copy()
    annotated.info.update({"dpi": (300, 300), "comment": b"made today", "gamma": 0.45})
    assert er.digest(er.Image(annotated)) == er.digest(er.Image(plain))


def test_image_digests_differ_when_a_pixel_differs() -> None:
    image = PILImage.new("RGB", (4, 3), (10, 20, 30))
    changed = image.copy()
    changed.putpixel((3, 2), (10, 20, 31))
    assert er.Image(changed) != er.Image(image)
    assert er.digest(er.Image(changed)) != er.digest(er.Image(image))
    assert er.Image(image.convert("RGBA")) != er.Image(image)  # the mode is part of the value


def test_image_png_is_canonical_and_uncompressed() -> None:
    png = er.Image(PILImage.new("L", (3, 2), 7)).png
    chunks = []
    at = 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        chunks.append(png[at + 4 : at + 8])
        data = png[at + 8 : at + 8 + length]
        assert struct.unpack(">I", png[at + 8 + length : at + 12 + length])[0] == zlib.crc32(
            png[at + 4 : at + 8 + length]
        )
        if chunks[-1] == b"IDAT":
            assert zlib.decompress(data) == b"\x00\x07\x07\x07" * 2  # filter 0, rows as they are
            assert data[2] == 1  # one final, stored (uncompressed) deflate block
        at += 12 + length
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert chunks == [b"IHDR", b"IDAT", b"IEND"]


def test_image_is_immutable_and_hands_out_copies() -> None:
    image = PILImage.new("RGB", (2, 2), (1, 2, 3))
    wrapped = er.Image(image)
    image.putpixel((0, 0), (9, 9, 9))  # the resource took a snapshot
    got = wrapped.image
    assert got.getpixel((0, 0)) == (1, 2, 3)
    got.putpixel((0, 0), (9, 9, 9))
    assert wrapped.image.getpixel((0, 0)) == (1, 2, 3)
    with pytest.raises(AttributeError):
        wrapped.png = b""  # type: ignore[misc]
    assert wrapped.deep_copy_resource() == wrapped


def test_image_repr_is_compact() -> None:
    assert repr(er.Image(PILImage.new("RGB", (64, 48)))) == "<Image 64x48 RGB>"
    assert repr(er.Image(PILImage.new("I;16", (1, 2)))) == "<Image 1x2 I;16>"


@pytest.mark.parametrize("mode", ["CMYK", "F", "I", "YCbCr", "RGBX", "PA"])
def test_image_rejects_modes_png_cannot_hold_exactly(mode: str) -> None:
    with pytest.raises(er.SerializationError, match=f"cannot store mode '{mode}'"):
        er.Image(PILImage.new(mode, (2, 2)))


def test_image_rejects_a_transparency_key_rather_than_dropping_it() -> None:
    image = PILImage.new("RGB", (2, 2))
    image.info["transparency"] = (0, 0, 0)
    with pytest.raises(er.SerializationError, match="transparency"):
        er.Image(image)
    assert er.Image(image.convert("RGBA")).mode == "RGBA"


def test_image_rejects_palette_images_without_their_colours() -> None:
    with pytest.raises(er.SerializationError, match="palette of 0 colours"):
        er.Image(PILImage.new("P", (2, 2)))
    rgba_palette = PILImage.new("RGBA", (2, 2), (1, 2, 3, 4)).convert("P")
    with pytest.raises(er.SerializationError, match="palettes of RGB colours"):
        er.Image(rgba_palette)


def test_image_rejects_what_is_not_a_pil_image_or_is_empty() -> None:
    with pytest.raises(er.FieldTypeError, match=r"wraps a PIL\.Image\.Image"):
        er.Image(np.zeros((2, 2)))  # type: ignore[arg-type]
    with pytest.raises(er.SerializationError, match="size 0x3"):
        er.Image(PILImage.new("L", (0, 3)))


@pytest.mark.parametrize("png", [b"", b"GIF89a" + bytes(40), b"\x89PNG\r\n\x1a\n" + bytes(25)])
def test_image_from_fields_rejects_what_is_not_its_png(png: bytes) -> None:
    with pytest.raises(er.DeserializationError, match=r"Image\.png is not a PNG"):
        er.Image.from_fields({"png": png})


# --- Optional dependencies --------------------------------------------------------------

_RUN_WITHOUT = """
import sys
sys.modules[{module!r}] = None  # as if it were not installed
import enact_resource as er
{body}
"""


def _run(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=60, check=False
    )


def test_importing_enact_imports_neither_numpy_nor_pillow() -> None:
    result = _run(
        "import sys, enact, enact_resource\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'PIL')))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


def test_nparray_without_numpy_says_which_extra_to_install() -> None:
    body = (
        "a = er.NPArray.from_fields({'dtype': '<f4', 'shape': [2], 'data': bytes(8)})\n"
        "print(repr(a), a.shape, er.digest(a)[:8])\n"
        "a.array\n"
    )
    result = _run(_RUN_WITHOUT.format(module="numpy", body=body))
    assert result.stdout.startswith("<NPArray float32[2]> (2,) ")  # no numpy needed for these
    assert result.returncode != 0
    assert "ImportError: enact NPArray needs numpy: pip install 'enact-resource[numpy]'" in (
        result.stderr
    )


def test_image_without_pillow_says_which_extra_to_install() -> None:
    png = er.Image(PILImage.new("RGB", (5, 4))).png
    body = f"i = er.Image.from_fields({{'png': {png!r}}})\nprint(repr(i), i.size)\ni.image\n"
    result = _run(_RUN_WITHOUT.format(module="PIL", body=body))
    assert result.stdout == "<Image 5x4 RGB> (5, 4)\n"
    assert result.returncode != 0
    assert "ImportError: enact Image needs Pillow: pip install 'enact-resource[image]'" in (
        result.stderr
    )


def test_media_types_are_registered_under_stable_names() -> None:
    assert er.Image.type_id() == '{"name": "enact_resource.Image"}'
    assert er.NPArray.type_id() == '{"name": "enact_resource.NPArray"}'
    assert er.Registry.get().lookup(er.Image.type_id()) is er.Image
    assert er.Registry.get().lookup(er.NPArray.type_id()) is er.NPArray


def test_media_pickle_and_deepcopy_to_equal_resources() -> None:
    for resource in (
        er.NPArray(np.arange(6, dtype=">i2").reshape(2, 3)),
        er.Image(PILImage.new("LA", (3, 2), (5, 6))),
    ):
        assert pickle.loads(pickle.dumps(resource)) == resource
        assert copy.deepcopy(resource) == resource
