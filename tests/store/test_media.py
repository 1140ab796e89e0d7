"""Image and NPArray round-trip through every backend with identical digests; printing."""

from __future__ import annotations

from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
from _store_testlib import BackendFactory, Box, fresh_ref
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

import enact_resource as er
import enact_store as es

DTYPES = st.one_of(
    hnp.scalar_dtypes(),
    hnp.floating_dtypes(endianness="?"),
    hnp.integer_dtypes(endianness="?"),
    hnp.byte_string_dtypes(),
    hnp.unicode_string_dtypes(endianness="?"),
    hnp.array_dtypes(allow_subarrays=True),
)
ARRAYS = hnp.arrays(
    dtype=DTYPES, shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
)
_EXAMPLES = {"memory": 100}  # backends that touch disk run fewer


def _round_trip(backend_factory: BackendFactory, resource: er.ResourceBase) -> Any:
    """Commits through one backend instance and reads back through a new one."""
    expected = er.digest(resource)
    writer = es.Store(backend_factory())
    try:
        ref = writer.commit(resource)
    finally:
        writer.close()
    assert ref.digest == expected
    reader = es.Store(backend_factory())
    try:
        with reader:
            got = fresh_ref(ref).get()
    finally:
        reader.close()
    assert er.digest(got) == expected
    return got


def test_arrays_round_trip_with_identical_digests(backend_factory: BackendFactory) -> None:
    @settings(
        max_examples=_EXAMPLES.get(backend_factory.kind, 40),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(array=ARRAYS, transpose=st.booleans())
    def round_trip(array: np.ndarray, transpose: bool) -> None:
        if transpose:
            array = array.T  # not C-contiguous
        got = _round_trip(backend_factory, er.NPArray(array))
        assert got == er.NPArray(array)
        assert got.array.dtype == array.dtype
        assert got.array.shape == array.shape
        assert got.array.tobytes() == array.tobytes()

    round_trip()


def test_images_round_trip_with_identical_digests(backend_factory: BackendFactory) -> None:
    rng = np.random.default_rng(7)
    for mode, channels in [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4)]:
        pixels = rng.integers(0, 256, (5, 7, channels), dtype=np.uint8)
        image = PILImage.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)
        got = _round_trip(backend_factory, er.Image(image))
        assert got == er.Image(image)
        assert got.image.mode == mode
        assert got.image.tobytes() == image.tobytes()
    for image in (
        PILImage.new("1", (9, 3), 1),
        PILImage.fromarray(rng.integers(0, 2**16, (3, 4), dtype=np.uint16)).convert("I;16"),
        PILImage.new("RGB", (6, 6), (1, 2, 3)).convert("P", palette=PILImage.Palette.ADAPTIVE),
    ):
        got = _round_trip(backend_factory, er.Image(image))
        assert got.image.tobytes() == image.tobytes()
        assert got.image.getpalette() == image.getpalette()


def test_media_nested_in_resources_round_trip(backend_factory: BackendFactory) -> None:
    image = er.Image(PILImage.new("RGB", (3, 2), (4, 5, 6)))
    array = er.NPArray(np.arange(6, dtype=">f8").reshape(2, 3))
    got = _round_trip(backend_factory, Box({"image": image, "arrays": [array, array]}))
    assert got.value == {"image": image, "arrays": [array, array]}


def test_mutating_what_a_ref_returns_does_not_change_the_ref(store: es.Store) -> None:
    with store:
        array_ref = store.commit(er.NPArray(np.arange(3.0)))
        image_ref = store.commit(er.Image(PILImage.new("L", (2, 2), 5)))
        mine = array_ref.get().array.copy()
        mine[0] = 42.0
        pixels = image_ref.get().image
        pixels.putpixel((0, 0), 9)
        assert fresh_ref(array_ref).get().array[0] == 0.0
        assert array_ref.get().array[0] == 0.0
        assert image_ref.get().image.getpixel((0, 0)) == 5


def test_media_pretty_print_compactly(store: es.Store) -> None:
    with store:
        image = store.commit(er.Image(PILImage.new("RGB", (64, 64))))
        array = store.commit(er.NPArray(np.zeros((3, 4), "f4")))
        box = store.commit(Box([image, array, er.NPArray(np.array(1.5))]))
        assert es.pformat(image) == f"-> <Image 64x64 RGB>#{image.digest[:6]}"
        assert es.pformat(box).splitlines() == [
            f"-> Box#{box.digest[:6]}:",
            "  value:",
            "    [",
            f"      -> <Image 64x64 RGB>#{image.digest[:6]}",
            f"      -> <NPArray float32[3, 4]>#{array.digest[:6]}",
            "      <NPArray float64[]>]",
        ]


def test_a_store_of_media_verifies(store: es.Store) -> None:
    with store:
        store.commit(er.NPArray(np.arange(10, dtype="<i2")))
        store.commit(er.Image(PILImage.new("RGBA", (3, 3), (1, 2, 3, 4))))
    report = store.verify()
    assert report.ok
