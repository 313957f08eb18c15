"""The file store: per-user folders for uploads and outputs, addressed by keys relative to the data dir."""

import io
import os
import re
import tempfile
import time
from pathlib import Path

from PIL import Image

APP_FOLDER = "avatar-generator"


def safe_name(name: str, *, suffix: str) -> str:
    """A file name that stays inside its folder: the last path part, plain characters, bounded length."""
    stem = Path(name.replace("\\", "/")).name.rsplit(".", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:60] or "image"
    return f"{stem}{suffix}"


class Storage:
    """Files under `<root>/{uploads,outputs}/avatar-generator/<user id>/`, addressed by keys relative to root."""

    def __init__(self, root: Path):
        self.root = root.resolve()

    def save_image(self, image: Image.Image, *, kind: str, user_id: int, name: str, staged: bool = False) -> str:
        """Store an image for a user and return its key: JPEG at quality 95 without chroma subsampling, no metadata.
        `staged`: written under a temporary name until `commit` (a crash before it leaves only a `.staged` file).

        (PNG would cost 20-50 ms per output image; JPEG about 2 ms.)
        """
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=95, subsampling=0)
        return self.save_bytes(out.getvalue(), kind=kind, user_id=user_id, name=name, suffix=".jpg", staged=staged)

    def save_bytes(self, data: bytes, *, kind: str, user_id: int, name: str, suffix: str, staged: bool = False) -> str:
        """Store an encoded file (a video, a preview) for a user and return its key; written whole or not at all.
        `staged`: as for `save_image`."""
        if kind not in ("uploads", "outputs"):
            raise ValueError(f"unknown storage kind {kind!r}")
        folder = self.root / kind / APP_FOLDER / str(int(user_id))
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{time.time_ns()}-{safe_name(name, suffix=suffix)}"
        handle, temp = tempfile.mkstemp(dir=folder, suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temp, _staged(target) if staged else target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target.relative_to(self.root).as_posix()

    def path(self, key: str) -> Path:
        """The file behind a key; refuses keys that point outside the storage root."""
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root):
            raise ValueError(f"storage key {key!r} leaves the storage root")
        return target

    def open_image(self, key: str) -> Image.Image:
        with Image.open(self.path(key)) as image:
            return image.convert("RGB")

    def commit(self, keys: list[str]) -> None:
        """Give staged files their keys' names (called as the rows that own them commit)."""
        for key in keys:
            os.replace(_staged(self.path(key)), self.path(key))

    def delete(self, key: str | None) -> None:
        if key:
            self.path(key).unlink(missing_ok=True)
            _staged(self.path(key)).unlink(missing_ok=True)

    def files_before(self, moment: float) -> list[str]:
        """Keys of the stored files (staged and half-written ones included) last changed before `moment` (epoch s)."""
        found = []
        for kind in ("uploads", "outputs"):
            for path in (self.root / kind / APP_FOLDER).glob("*/*"):
                try:
                    if path.is_file() and path.stat().st_mtime < moment:
                        found.append(path.relative_to(self.root).as_posix())
                except FileNotFoundError:  # deleted meanwhile
                    continue
        return found

    def outputs_of(self, user_id: int, name: str) -> list[str]:
        """Keys of every output saved for a user under `name`, whatever its kind of file (one per attempt that got as
        far as saving)."""
        folder = self.root / "outputs" / APP_FOLDER / str(int(user_id))
        return [path.relative_to(self.root).as_posix() for path in folder.glob(f"*-{safe_name(name, suffix='.*')}")]


def _staged(target: Path) -> Path:
    return target.with_name(target.name + ".staged")
