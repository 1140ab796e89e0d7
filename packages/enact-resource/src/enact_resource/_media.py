"""Media resources: :class:`Image` (Pillow images) and :class:`NPArray` (numpy arrays).

Both are optional extras: Pillow (``enact-resource[image]``) and numpy
(``enact-resource[numpy]``) are imported only when an image or array is built
or unpacked, never by ``import enact_resource``. The classes themselves are
always defined and registered, so a store holding them can be read, copied,
verified, collected and pretty-printed where neither library is installed.

Both are immutable: they hold bytes, and hand out a fresh PIL image or a
read-only array view on each access, so nothing a caller does to what it got
can change what a ref returns later.

Image: canonical PNG
--------------------

The digest of a resource is the digest of its stored fields, and stores
re-hash what they read, where Pillow may be missing. So a digest "over the
pixels" has to be a digest over stored bytes that are a function of the
pixels alone. Compressed PNG is not: what zlib emits depends on the zlib build
(Pillow's wheels ship zlib-ng, distributions ship zlib), so the same pixels
would get different digests after a Pillow upgrade, and a partial replay that
re-computes an image would no longer match its recorded children. An
:class:`Image` therefore stores a *canonical* PNG that enact writes itself:

- an ``IHDR`` chunk (no interlacing), a ``PLTE`` chunk for palette images,
  the pixel data in ``IDAT`` chunks of at most 1 MiB, and ``IEND``; no other
  chunk (no text, time, gamma, ICC profile or physical size);
- each row with filter type 0 (none), and the zlib stream made of *stored*
  (uncompressed) deflate blocks of 65,535 bytes (the last one shorter).

Every PNG reader reads it; it is about the size of the raw pixels (compress
at the storage layer, with a :class:`Ref` subclass, if that matters: the
digest stays the digest of the image). Two images are equal, and have equal
digests, exactly when they have the same mode, size, palette (``P`` images)
and pixel bytes, whichever Pillow, zlib or machine encoded them.

Modes: ``1``, ``L``, ``LA``, ``I;16``, ``P`` (with an RGB palette), ``RGB`` and
``RGBA``: those that PNG holds exactly. Others (``CMYK``, ``F``, ``I``, ...)
raise :class:`SerializationError`; convert first. Metadata in ``image.info``
(EXIF, ICC profile, DPI, text) is not kept; an image with a transparency key
(``info["transparency"]``) raises, since dropping it would change how the
image looks: convert it to ``LA`` or ``RGBA`` first.

NPArray: dtype, shape and bytes
-------------------------------

An :class:`NPArray` stores the dtype as numpy writes it in ``.npy`` headers
(``dtype.str`` such as ``'<f4'``, byte order included, or for a structured
dtype the JSON text of its descr), the shape, and the raw bytes of the values
in C order. Two arrays are equal, and have equal digests, exactly when their
dtypes are equal, their shapes are equal and their values are equal bit for
bit in C order: NaN equals a NaN with the same payload, ``-0.0`` differs
from ``0.0``, and ``'>f4'`` differs from ``'<f4'``. Non-contiguous arrays and
views are stored by value; 0-d and empty arrays work. Object dtypes (and
numpy's ``StringDType``, whose bytes are pointers) raise
:class:`SerializationError`, as do structured dtypes with overlapping fields
or titles.
"""

from __future__ import annotations

import io
import json
import re
import struct
import sys
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from enact_resource._errors import DeserializationError, FieldTypeError, SerializationError
from enact_resource._resource import FieldValue, ResourceBase, set_type_name

if TYPE_CHECKING:
    import numpy
    import numpy.typing
    from PIL import Image as PILImage

__all__ = ["Image", "NPArray"]

_new = object.__new__


# --- Lazy imports ---------------------------------------------------------------


def _pil() -> Any:
    try:
        from PIL import Image as PILImage
    except ImportError as e:
        raise ImportError("enact Image needs Pillow: pip install 'enact-resource[image]'") from e
    return PILImage


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as e:
        raise ImportError("enact NPArray needs numpy: pip install 'enact-resource[numpy]'") from e
    return numpy


# --- Image ----------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow mode -> (PNG bit depth, PNG colour type). One-to-one, so the mode is
# read back from the header alone.
_PNG_MODES: dict[str, tuple[int, int]] = {
    "1": (1, 0),
    "L": (8, 0),
    "I;16": (16, 0),
    "RGB": (8, 2),
    "P": (8, 3),
    "LA": (8, 4),
    "RGBA": (8, 6),
}
_MODES_BY_HEADER = {header: mode for mode, header in _PNG_MODES.items()}
_MAX_SIDE = 2**31 - 1  # PNG's limit on width and height
_IDAT_SIZE = 1 << 20  # bytes of zlib stream per IDAT chunk (part of the canonical form)
_STORED_BLOCK = 65535  # the largest stored deflate block
_IHDR = struct.Struct(">8sI4sIIBBBBB")  # signature, IHDR length and type, fields


def _chunk(kind: bytes, data: bytes) -> bytes:
    return b"".join(
        (
            struct.pack(">I", len(data)),
            kind,
            data,
            struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))),
        )
    )


def _zlib_stored(data: bytes) -> bytes:
    """A zlib stream of ``data`` in stored (uncompressed) deflate blocks: canonical."""
    view = memoryview(data)
    parts = [b"\x78\x01"]  # deflate, 32 KiB window, no dictionary, "fastest"
    for start in range(0, len(data), _STORED_BLOCK):
        block = view[start : start + _STORED_BLOCK]
        final = 1 if start + _STORED_BLOCK >= len(data) else 0
        parts.append(struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF))
        parts.append(block.tobytes())
    parts.append(struct.pack(">I", zlib.adler32(data)))
    return b"".join(parts)


def _encode_png(image: Any) -> bytes:
    """Returns the canonical PNG of a PIL image (see the module docstring)."""
    pil = _pil()
    if not isinstance(image, pil.Image):
        raise FieldTypeError(
            f"enact Image wraps a PIL.Image.Image, got {type(image).__qualname__}: {image!r:.100}"
        )
    mode = image.mode
    header = _PNG_MODES.get(mode)
    if header is None:
        raise SerializationError(
            f"enact Image cannot store mode {mode!r} exactly as PNG; supported modes are "
            f"{', '.join(_PNG_MODES)} (convert first, e.g. image.convert('RGB'))"
        )
    width, height = image.size
    if not (1 <= width <= _MAX_SIDE and 1 <= height <= _MAX_SIDE):
        raise SerializationError(
            f"enact Image cannot store an image of size {width}x{height}: "
            "PNG needs a width and height of at least 1"
        )
    if "transparency" in image.info:
        raise SerializationError(
            f"enact Image does not keep the transparency key of a {mode!r} image "
            "(image.info['transparency']); convert it to 'RGBA' or 'LA' first"
        )
    chunks = [
        _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, *header, 0, 0, 0)),
    ]
    if mode == "P":
        chunks.append(_chunk(b"PLTE", _palette(image)))
    raw = image.tobytes("raw", "I;16B") if mode == "I;16" else image.tobytes()
    stride = len(raw) // height
    view = memoryview(raw)
    rows = [view[start : start + stride] for start in range(0, len(raw), stride)]
    # Filter type 0 before each row.
    stream = _zlib_stored(b"\x00" + b"\x00".join(rows))
    chunks += [
        _chunk(b"IDAT", stream[start : start + _IDAT_SIZE])
        for start in range(0, len(stream), _IDAT_SIZE)
    ]
    chunks.append(_chunk(b"IEND", b""))
    return _PNG_SIGNATURE + b"".join(chunks)


def _palette(image: Any) -> bytes:
    palette = image.palette
    if palette is not None and palette.mode != "RGB":
        raise SerializationError(
            f"enact Image stores palettes of RGB colours, not {palette.mode}; "
            "convert the image to 'RGBA' first"
        )
    colours = bytes(image.getpalette("RGB") or ())
    count = len(colours) // 3
    highest = image.getextrema()[1]
    if count == 0 or highest >= count or count > 256:
        raise SerializationError(
            f"enact Image cannot store a 'P' image whose pixels use index {highest} "
            f"with a palette of {count} colours; give it a palette (image.putpalette) first"
        )
    return colours


def _png_header(png: object) -> tuple[int, int, str]:
    """Returns (width, height, mode) from a PNG's header, checking it is one Image writes."""
    if type(png) is not bytes:
        raise FieldTypeError(f"Image.png must be bytes, got {type(png).__qualname__}")
    try:
        signature, length, kind, width, height, depth, colour, method, filtering, interlace = (
            _IHDR.unpack_from(png)
        )
    except struct.error:
        raise DeserializationError(
            f"Image.png is not a PNG ({len(png)} bytes, too short for a header)"
        ) from None
    mode = _MODES_BY_HEADER.get((depth, colour))
    if (
        signature != _PNG_SIGNATURE
        or length != 13
        or kind != b"IHDR"
        or mode is None
        or (method, filtering, interlace) != (0, 0, 0)
        or not (1 <= width <= _MAX_SIDE and 1 <= height <= _MAX_SIDE)
    ):
        raise DeserializationError(
            f"Image.png is not a PNG that enact writes (header {png[:33]!r})"
        )
    return width, height, mode


class Image(ResourceBase):
    """An image: a ``PIL.Image.Image`` stored as canonical PNG bytes (``enact-resource[image]``).

    ``Image(pil_image)`` encodes the image once; ``.image`` decodes a new PIL
    image on each access, so changing it never changes the resource. Equal
    mode, size, palette and pixels give equal images and equal digests,
    whichever Pillow or zlib is installed (see the module docstring of
    ``enact_resource._media`` for the format). Metadata in ``image.info`` is
    not kept. One field, ``png``.

    Raises:
        FieldTypeError: the argument is not a PIL image.
        SerializationError: the mode has no exact PNG form, the image is empty,
            or it has a transparency key.
        ImportError: Pillow is not installed.
    """

    __slots__ = ("_png",)
    _png: bytes

    def __init__(self, image: PILImage.Image) -> None:
        self._png = _encode_png(image)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return ("png",)

    def field_values(self) -> tuple[bytes]:
        return (self._png,)

    @classmethod
    def from_fields(cls, field_dict: Mapping[str, FieldValue]) -> Image:
        png = field_dict["png"]
        _png_header(png)
        image = _new(cls)
        image._png = png
        return image

    def deep_copy_resource(self) -> Image:
        return self  # Immutable: a copy would be indistinguishable.

    @property
    def png(self) -> bytes:
        """The PNG bytes (a valid PNG file)."""
        return self._png

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, read from the PNG header (no Pillow needed)."""
        width, height, _ = _png_header(self._png)
        return width, height

    @property
    def mode(self) -> str:
        """The Pillow mode (``'RGB'``, ``'L'``, ...), read from the PNG header."""
        return _png_header(self._png)[2]

    @property
    def image(self) -> PILImage.Image:
        """A new ``PIL.Image.Image`` decoded from the PNG (yours to change).

        Raises:
            ImportError: Pillow is not installed.
        """
        pil = _pil()
        image = pil.open(io.BytesIO(self._png))
        image.load()
        mode = self.mode
        if image.mode != mode:  # Older Pillows read 16-bit grey as 'I'.
            image = image.convert(mode)
        result: PILImage.Image = image
        return result

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._png == other._png

    def __hash__(self) -> int:
        return hash(self._png)

    def __repr__(self) -> str:
        width, height, mode = _png_header(self._png)
        return f"<{type(self).__name__} {width}x{height} {mode}>"

    _enact_pformat_ = __repr__


# --- NPArray --------------------------------------------------------------------

_KIND_NAMES = {"f": "float", "i": "int", "u": "uint", "c": "complex"}
_SIMPLE_DTYPE = re.compile(r"([<>|])([a-zA-Z])(\d+)(\[\w+\])?")
_NATIVE = "<" if sys.byteorder == "little" else ">"


def _dtype_text(array: Any, np: Any) -> str:
    """The canonical text of an array's dtype; raises if the bytes would not be the values."""
    dtype = array.dtype
    if dtype.hasobject or dtype.kind in "OT":
        raise SerializationError(
            f"enact NPArray cannot store dtype {dtype}: its items are Python objects or "
            "pointers, not their values; convert to a fixed-size dtype (e.g. 'U' or 'S') first"
        )
    if dtype.names is None and dtype.subdtype is None:
        text: str = dtype.str
        back = np.dtype(text)
    else:
        try:
            descr = np.lib.format.dtype_to_descr(dtype)
            text = json.dumps(descr)
            back = np.lib.format.descr_to_dtype(_tuples(json.loads(text)))
        except (ValueError, TypeError) as e:
            raise SerializationError(f"enact NPArray cannot store dtype {dtype}: {e}") from None
    if back != dtype or back.itemsize != dtype.itemsize:
        raise SerializationError(f"enact NPArray cannot store dtype {dtype} exactly")
    return text


def _tuples(descr: Any) -> Any:
    """Turns the JSON form of a descr back into numpy's: (name, format[, shape]) tuples."""
    if isinstance(descr, list):
        return [_field(item) for item in descr]
    return descr


def _field(item: Any) -> Any:
    if not isinstance(item, list) or len(item) not in (2, 3):
        raise DeserializationError(f"NPArray.dtype holds an invalid field {item!r:.100}")
    name = tuple(item[0]) if isinstance(item[0], list) else item[0]  # (title, name)
    if len(item) == 2:
        return (name, _tuples(item[1]))
    return (name, _tuples(item[1]), tuple(item[2]))


def _dtype_name(text: str) -> str:
    """A short display name of a stored dtype (as numpy prints it), without numpy."""
    if text.startswith("["):
        try:
            names = [field[0] for field in json.loads(text)]
        except (ValueError, TypeError, IndexError, KeyError):
            return "struct"
        return "struct{" + ", ".join(map(str, names)) + "}"
    match = _SIMPLE_DTYPE.fullmatch(text)
    if match is None:
        return text
    order, kind, size, unit = match.groups()
    if order not in ("|", _NATIVE):
        return text
    if kind == "b" and size == "1":
        return "bool"
    if kind in _KIND_NAMES:
        return f"{_KIND_NAMES[kind]}{int(size) * 8}"
    if kind in "Mm" and size == "8":
        return ("datetime64" if kind == "M" else "timedelta64") + (unit or "")
    return text if order != "|" else text[1:]


class NPArray(ResourceBase):
    """A ``numpy.ndarray``, stored losslessly: dtype, shape and bytes (``enact-resource[numpy]``).

    ``NPArray(array)`` takes a copy of the values (in C order), so changing
    ``array`` afterwards does not change the resource; ``.array`` is a
    read-only view on the stored bytes (``.array.copy()`` for one to change).
    Equal dtype, shape and bit-identical values give equal resources and
    equal digests (see the module docstring of ``enact_resource._media``).
    Fields: ``dtype`` (text), ``shape`` (ints), ``data`` (bytes).

    Raises:
        FieldTypeError: the argument is not an ndarray (or is a masked array).
        SerializationError: the dtype holds objects or cannot be stored exactly.
        ImportError: numpy is not installed.
    """

    __slots__ = ("_data", "_dtype", "_shape")
    _dtype: str
    _shape: tuple[int, ...]
    _data: bytes

    def __init__(self, array: numpy.typing.NDArray[Any]) -> None:
        np = _numpy()
        if not isinstance(array, np.ndarray) or isinstance(array, np.ma.MaskedArray):
            raise FieldTypeError(
                f"enact NPArray wraps a numpy.ndarray, got {type(array).__qualname__}: "
                f"{array!r:.100} (use numpy.asarray(value); masked arrays are not supported)"
            )
        self._dtype = _dtype_text(array, np)
        self._shape = tuple(int(n) for n in array.shape)
        self._data = array.tobytes(order="C")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return ("dtype", "shape", "data")

    def field_values(self) -> tuple[str, tuple[int, ...], bytes]:
        return (self._dtype, self._shape, self._data)

    @classmethod
    def from_fields(cls, field_dict: Mapping[str, FieldValue]) -> NPArray:
        dtype, shape, data = field_dict["dtype"], field_dict["shape"], field_dict["data"]
        if type(dtype) is not str or type(data) is not bytes:
            raise FieldTypeError(
                "NPArray fields dtype and data must be str and bytes, got "
                f"{type(dtype).__qualname__} and {type(data).__qualname__}"
            )
        if not isinstance(shape, list | tuple) or not all(type(n) is int and n >= 0 for n in shape):
            raise FieldTypeError(f"NPArray.shape must be non-negative ints, got {shape!r:.100}")
        array = _new(cls)
        array._dtype = dtype
        array._shape = tuple(shape)
        array._data = data
        return array

    def deep_copy_resource(self) -> NPArray:
        return self  # Immutable: a copy would be indistinguishable.

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape (no numpy needed)."""
        return self._shape

    @property
    def dtype(self) -> numpy.dtype[Any]:
        """The ``numpy.dtype``.

        Raises:
            ImportError: numpy is not installed.
            DeserializationError: the stored dtype text is not a dtype.
        """
        np = _numpy()
        text = self._dtype
        try:
            if text.startswith("["):
                dtype = np.lib.format.descr_to_dtype(_tuples(json.loads(text)))
            else:
                dtype = np.dtype(text)
        except (ValueError, TypeError) as e:
            raise DeserializationError(f"NPArray.dtype {text!r:.100} is not a dtype: {e}") from e
        result: numpy.dtype[Any] = dtype
        return result

    @property
    def array(self) -> numpy.typing.NDArray[Any]:
        """A read-only ``numpy.ndarray`` viewing the stored bytes (no copy).

        Raises:
            ImportError: numpy is not installed.
            DeserializationError: the bytes do not fit the dtype and shape.
        """
        np = _numpy()
        dtype = self.dtype
        count = 1
        for n in self._shape:
            count *= n
        if count * dtype.itemsize != len(self._data):
            raise DeserializationError(
                f"NPArray holds {len(self._data)} bytes, but {dtype} values of shape "
                f"{list(self._shape)} take {count * dtype.itemsize}"
            )
        if dtype.itemsize == 0 or count == 0:
            array = np.empty(self._shape, dtype)
            array.flags.writeable = False
        else:
            array = np.frombuffer(self._data, dtype).reshape(self._shape)
        result: numpy.typing.NDArray[Any] = array
        return result

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (self._dtype, self._shape, self._data) == (
            other._dtype,
            other._shape,
            other._data,
        )

    def __hash__(self) -> int:
        return hash((self._dtype, self._shape, self._data))

    def __repr__(self) -> str:
        shape = ", ".join(map(str, self._shape))
        return f"<{type(self).__name__} {_dtype_name(self._dtype)}[{shape}]>"

    _enact_pformat_ = __repr__


# Names fixed by the format: the public import path, whichever module defines them.
set_type_name(Image, "enact_resource.Image")
set_type_name(NPArray, "enact_resource.NPArray")
