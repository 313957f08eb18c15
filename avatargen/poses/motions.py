"""Motions: named pose sequences (avatargen/poses/motions.json, built by poses/build_motions.py), their frames at any
count, their previews, and the motion library's filters and search (the pose gallery's facets and words).

Imports `avatargen.errors`, `poses.template` and `poses.search`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from avatargen.errors import UnknownMotion
from avatargen.poses.framing import ASPECT
from avatargen.poses.search import SearchIndex, rank_key, search_words
from avatargen.poses.template import FACE_POINTS, FACETS, KEYPOINT_NAMES, PoseTemplate

DEFAULT_PATH = Path(__file__).resolve().with_name("motions.json")  # package data
PREVIEW_FOLDER = DEFAULT_PATH.with_name("motions")  # <id>.webp: the animated skeleton of each motion
SAMPLES = 33  # frames the build writes per motion, from its start to its end
PREVIEW_FRAMES = 16
PREVIEW_SIZE = (96, 144)
MAX_STEP = 0.2  # canvas heights a body joint may move between two frames of a 16-frame clip (half at 32 frames)
MIN_FRAMES, MAX_FRAMES = 8, 32

Points = tuple[tuple[float, float, float], ...]
_BODY = [i for i, name in enumerate(KEYPOINT_NAMES) if name not in FACE_POINTS]


@dataclass(frozen=True)
class Motion:
    """A named pose sequence: facets like a pose template's, and `SAMPLES` frames from its start to its end.

    `loop` motions end where they start (a walk cycle, a turn on the spot): their frames are spread over one cycle
    without repeating the first; other motions show their first and their last pose.
    """

    id: str
    name: str
    category: str
    gender: str
    view: str  # where the camera stands (the person may turn away from it)
    framing: str
    tags: tuple[str, ...]
    loop: bool
    keyframes: tuple[tuple[float, str], ...]  # (time 0-1, pose book pose) the motion was built from
    samples: tuple[tuple[Points, tuple[Points, Points] | None], ...]  # (keypoints, hands) per sample

    @property
    def preview(self) -> Path:
        """The animated WebP of its skeleton (package data)."""
        return PREVIEW_FOLDER / f"{self.id}.webp"

    def times(self, count: int) -> list[float]:
        """When each of `count` frames is taken, 0 (start) to 1 (end)."""
        if not MIN_FRAMES <= count <= MAX_FRAMES:
            raise ValueError(f"a motion has {MIN_FRAMES} to {MAX_FRAMES} frames, not {count}")
        return [j / count for j in range(count)] if self.loop else [j / (count - 1) for j in range(count)]

    def frames(self, count: int, *, mirror: bool = False) -> list[PoseTemplate]:
        """The motion as `count` pose templates (its mirror image with `mirror`), resampled from its samples."""
        frames = []
        for j, t in enumerate(self.times(count)):
            keypoints, hands = self._at(t)
            frame = PoseTemplate(
                id=f"{self.id}@{j}",
                name=self.name,
                category=self.category,
                gender=self.gender,
                view=self.view,
                framing=self.framing,
                tags=self.tags,
                keypoints=keypoints,
                base_pose=self.id,
                hands=hands,
            )
            frames.append(frame.mirrored() if mirror else frame)
        return frames

    def largest_step(self, count: int) -> float:
        """The furthest a body joint moves between two frames in a row (a loop's last and first too), in canvas
        heights, where both frames show it."""
        frames = [f.keypoints for f in self.frames(count)]
        pairs = list(zip(frames, frames[1:] + (frames[:1] if self.loop else []), strict=False))
        steps = [
            math.hypot((a[i][0] - b[i][0]) * ASPECT, a[i][1] - b[i][1])
            for a, b in pairs
            for i in _BODY
            if a[i][2] and b[i][2]
        ]
        return max(steps, default=0.0)

    def to_public(self) -> dict:
        """JSON-ready record (camelCase keys), as `/motions` lists it."""
        return {
            "id": self.id,
            "name": self.name,
            "category": self.category,
            "gender": self.gender,
            "view": self.view,
            "framing": self.framing,
            "tags": list(self.tags),
            "loop": self.loop,
            "keyframes": [{"at": at, "pose": pose} for at, pose in self.keyframes],
        }

    def _at(self, t: float) -> tuple[Points, tuple[Points, Points] | None]:
        # between two samples: visible points linearly, a point one of them hides from the nearer one
        u = t * (len(self.samples) - 1)
        i = min(int(u), len(self.samples) - 2)
        w = u - i
        (k0, h0), (k1, h1) = self.samples[i], self.samples[i + 1]
        keypoints = _blend(k0, k1, w)
        if h0 is None or h1 is None:
            return keypoints, h0 if w < 0.5 else h1
        return keypoints, (_blend(h0[0], h1[0], w), _blend(h0[1], h1[1], w))


def _blend(a: Points, b: Points, w: float) -> Points:
    out = []
    for (xa, ya, va), (xb, yb, vb) in zip(a, b, strict=True):
        if va and vb:
            out.append((round(xa + w * (xb - xa), 4), round(ya + w * (yb - ya), 4), 1.0))
        else:
            out.append((xa, ya, va) if w < 0.5 else (xb, yb, vb))
    return tuple(out)


class MotionLibrary:
    """The motions, looked up by id, filtered by the pose gallery's facets and searched by words."""

    def __init__(self, motions: Sequence[Motion]):
        self._motions = tuple(motions)
        self._by_id = {m.id: m for m in self._motions}
        if len(self._by_id) != len(self._motions):
            raise ValueError("duplicate motion ids")
        self._search = SearchIndex(self._motions)  # type: ignore[arg-type]  # the same facets, name and tags

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> MotionLibrary:
        """Read a motions file (JSON, written by poses/build_motions.py)."""
        data = json.loads(Path(path).read_text())
        return cls([_motion(record) for record in data["motions"]])

    def __len__(self) -> int:
        return len(self._motions)

    def __iter__(self) -> Iterator[Motion]:
        return iter(self._motions)

    def __contains__(self, motion_id: object) -> bool:
        return isinstance(motion_id, str) and motion_id in self._by_id

    def get(self, motion_id: str) -> Motion:
        """The motion with this id; `UnknownMotion` when there is none."""
        try:
            return self._by_id[motion_id]
        except (KeyError, TypeError):
            shown = repr(motion_id) if len(repr(motion_id)) <= 60 else repr(motion_id)[:57] + "..."
            raise UnknownMotion(f"Unknown motion {shown}. Pick a motion from the gallery.") from None

    def facets(self) -> dict[str, list[str]]:
        """Each facet's distinct values among the motions, sorted."""
        return {f: sorted({getattr(m, f) for m in self._motions}) for f in FACETS}

    def query(
        self,
        *,
        category: str | None = None,
        gender: str | None = None,
        view: str | None = None,
        framing: str | None = None,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Motion], int]:
        """One page of the matching motions and how many match: facets as the pose gallery's, search words ranked
        as `PoseLibrary.query` ranks them (then in library order)."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset must not be negative")
        wanted = [(f, v) for f, v in zip(FACETS, (category, gender, view, framing), strict=True) if v]
        words = list(dict.fromkeys(search_words(search or "")))
        if words:
            scores = self._search.scores(words)
            order = [self._motions[i] for i in sorted(scores, key=lambda i: rank_key(scores[i], i))]
        else:
            order = list(self._motions)
        found = [m for m in order if all(getattr(m, f) == v for f, v in wanted)]
        return found[offset : offset + limit], len(found)


def _points(rows) -> Points:
    return tuple((float(x), float(y), float(v)) for x, y, v in rows)


def _motion(record: dict) -> Motion:
    samples = tuple(
        (_points(f["keypoints"]), None if f["hands"] is None else (_points(f["hands"][0]), _points(f["hands"][1])))
        for f in record["frames"]
    )
    return Motion(
        id=record["id"],
        name=record["name"],
        category=record["category"],
        gender=record["gender"],
        view=record["view"],
        framing=record["framing"],
        tags=tuple(record["tags"]),
        loop=bool(record["loop"]),
        keyframes=tuple((float(k["at"]), k["pose"]) for k in record["keyframes"]),
        samples=samples,
    )
