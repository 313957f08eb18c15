"""Video clips as files: H.264 MP4 for playing and downloading, an animated WebP for previews, a poster frame.

PyAV (FFmpeg in its wheel) encodes the MP4: yuv420p (what every browser and phone plays), even sizes (4:2:0 halves
the chroma planes), the index up front (`faststart`), so a browser starts playing before the whole file is in.
Imports PIL, and PyAV inside the function that uses it.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

CRF = 20  # x264 quality: visually near-lossless at these sizes, a few hundred kB for 2 s
PREVIEW_QUALITY = 70  # WebP


def even_size(width: int, height: int) -> tuple[int, int]:
    """The size rounded down to even numbers (at least 2), as yuv420p needs."""
    return max(2, width - width % 2), max(2, height - height % 2)


def mp4_bytes(frames: Sequence[Image.Image], fps: int) -> bytes:
    """The frames as an H.264 MP4 (yuv420p, even size, faststart) at `fps` frames per second."""
    if not frames:
        raise ValueError("a clip needs at least one frame")
    width, height = even_size(*frames[0].size)
    # faststart moves the index to the front once the file is written: that takes a file, not a stream
    with tempfile.TemporaryDirectory(prefix="avatargen-clip-") as folder:
        path = Path(folder) / "clip.mp4"
        _write_mp4(path, frames, fps, width, height)
        return path.read_bytes()


def _write_mp4(path: Path, frames: Sequence[Image.Image], fps: int, width: int, height: int) -> None:
    import av

    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(CRF), "preset": "medium"}
        for frame in frames:
            picture = frame.convert("RGB")
            if picture.size != (width, height):
                picture = picture.crop((0, 0, width, height))
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def webp_bytes(frames: Sequence[Image.Image], fps: int, *, width: int | None = None) -> bytes:
    """The frames as a looping animated WebP (scaled to `width` if given), for galleries and history."""
    if not frames:
        raise ValueError("a clip needs at least one frame")
    pictures = [frame.convert("RGB") for frame in frames]
    if width is not None and width < pictures[0].width:
        height = round(pictures[0].height * width / pictures[0].width)
        pictures = [p.resize((width, height), Image.Resampling.LANCZOS) for p in pictures]
    out = io.BytesIO()
    pictures[0].save(
        out,
        format="WEBP",
        save_all=True,
        append_images=pictures[1:],
        duration=round(1000 / fps),
        loop=0,
        quality=PREVIEW_QUALITY,
    )
    return out.getvalue()


def poster(frames: Sequence[Image.Image]) -> Image.Image:
    """The frame a clip shows before it plays: its first."""
    return frames[0].convert("RGB")
