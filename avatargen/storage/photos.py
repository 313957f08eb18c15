"""Photo checks on upload: decoding under a memory budget (a few at a time, bounded size), no metadata kept."""

import ctypes
import ctypes.util
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageOps, UnidentifiedImageError

from avatargen.errors import InvalidPhoto

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
MIN_SIDE = 64
MAX_DECODED_SIDE = 2048  # the engine uses a face crop and at most 768×1152 of pose: more is only memory
DECODE_SLOTS = 2  # photos decoded at once in one process

_decode_slots = threading.BoundedSemaphore(DECODE_SLOTS)
_working = threading.local()
_libc = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform == "linux" else None


def load_photo(
    path: str | os.PathLike, *, max_bytes: int, max_pixels: int, max_side: int = MAX_DECODED_SIDE
) -> Image.Image:
    """Decode an uploaded photo under a memory budget, or raise InvalidPhoto saying what is wrong.

    The file is judged by decoding it, never by its name or declared type. At most `DECODE_SLOTS` photos decode at
    once in this process (`photo_work`); JPEGs decode straight at a reduced scale (draft mode) and every photo comes
    out with its long side at most `max_side`, which is all the engine can use. EXIF orientation is applied and the
    result is a plain RGB image with no metadata.
    """
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise InvalidPhoto("The uploaded photo is no longer here (uploads expire); please upload it again.") from None
    if size > max_bytes:
        raise InvalidPhoto(f"The photo is {megabytes(size)}; the limit is {megabytes(max_bytes)}.")
    try:
        with photo_work():
            return _decode(path, max_pixels=max_pixels, max_side=max_side)
    except UnidentifiedImageError:
        raise InvalidPhoto("That file is not a photo we can read. Upload a JPEG, PNG or WebP image.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidPhoto(f"The photo has too many pixels; the limit is {max_pixels / 1e6:.0f} MP.") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidPhoto(f"The photo is damaged or incomplete and could not be decoded ({error}).") from None


def _decode(path: str | os.PathLike, *, max_pixels: int, max_side: int) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path, formats=ACCEPTED_FORMATS) as image:
            _check_size(*image.size, max_pixels=max_pixels)
            scale = min(1.0, max_side / max(image.size))
            image.draft("RGB", (round(image.width * scale), round(image.height * scale)))
            image.load()
            plain = image if image.mode in ("RGB", "RGBA", "L", "LA") else _to_rgb(image)  # reduce() needs these
            return _to_rgb(ImageOps.exif_transpose(_bounded(plain, max_side)))


@contextmanager
def photo_work() -> Iterator[None]:
    """Decoding and analysing photos: at most `DECODE_SLOTS` threads of this process at once, and the memory they
    freed handed back to the system afterwards. Re-entrant within a thread (load_photo uses it too)."""
    if getattr(_working, "inside", False):
        yield
        return
    with _decode_slots:
        _working.inside = True
        try:
            yield
        finally:
            _working.inside = False
            _return_memory()


def megabytes(count: int) -> str:
    return f"{count / 1e6:.1f}".removesuffix(".0") + " MB"


def _check_size(width: int, height: int, *, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise InvalidPhoto(
            f"The photo is {width}×{height} ({width * height / 1e6:.0f} MP); the limit is {max_pixels / 1e6:.0f} MP."
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidPhoto(f"The photo is {width}×{height}; each side needs at least {MIN_SIDE} pixels.")


def _bounded(image: Image.Image, max_side: int) -> Image.Image:
    """The image with its long side at most `max_side` (a whole-factor reduce first: fast and light)."""
    factor = max(image.size) // max_side
    if factor >= 2:
        image = image.reduce(factor)
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _return_memory() -> None:
    """Hand freed decode buffers back to the system, so a burst of big photos does not stay resident."""
    if _libc is not None:
        _libc.malloc_trim(0)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if image.mode.startswith("I;16") or image.mode == "I":
        image = image.point(lambda value: value / 256).convert("L")
    return image.convert("RGB")
