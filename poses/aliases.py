"""Build avatargen/poses/aliases.json: every pose id an earlier library published, mapped to its nearest template
in the current one, so old history entries can be made again and jobs queued before an upgrade still run.

    python poses/aliases.py            # after poses/build.py (or a merge) changed the library

Earlier libraries are read from this checkout's git history (every committed version of any
`templates.parquet`). The nearest template is chosen among the current ones of the same base pose and view, else
the same base pose, else the same category and view, else the same category, else all; within them by framing,
then gender, then the mean distance between the keypoints both have visible. Ids still in the library need no
alias and get none.
"""

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from avatargen.poses.library import ALIASES_PATH, PoseLibrary  # noqa: E402
from avatargen.poses.template import PoseTemplate  # noqa: E402


def git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True).stdout


def published() -> dict[str, dict]:
    """Every record any committed templates.parquet held, by id (the newest version of an id wins)."""
    records: dict[str, dict] = {}
    commits = git("log", "--reverse", "--format=%H", "HEAD", "--", "*templates.parquet").decode().split()
    for commit in commits:
        paths = git("ls-tree", "-r", "--name-only", commit).decode().splitlines()
        for path in (p for p in paths if p.endswith("templates.parquet")):
            table = pq.read_table(io.BytesIO(git("show", f"{commit}:{path}")))
            for row in table.to_pylist():
                if row.get("owner") is None:
                    records[row["id"]] = row
    return records


def distance(old: dict, new: PoseTemplate) -> float:
    """Mean distance between the keypoints both poses show (1 when they share none)."""
    pairs = [
        math.dist(a[:2], b[:2])
        for a, b in zip(old.get("keypoints") or [], new.keypoints, strict=False)
        if a[2] and b[2]
    ]
    return sum(pairs) / len(pairs) if pairs else 1.0


GENDER_MARKS = ("-f-", "-m-", "-u-")


def base_of(old: dict) -> str:
    """An old record's base pose: its own field, or (the first library had none) its id up to the gender mark."""
    if base := old.get("base_pose") or old.get("basePose"):
        return base
    cuts = [old["id"].find(mark) for mark in GENDER_MARKS if mark in old["id"]]
    return old["id"][: min(cuts)] if cuts else old["id"]


def same_base(template: PoseTemplate, base: str) -> bool:
    """The same base pose, also when a later library filed it under a family (arabesque: dance-ballet-arabesque)."""
    return template.base_pose == base or template.base_pose.endswith("-" + base)


def nearest(old: dict, library: PoseLibrary) -> tuple[str, int]:
    """The nearest current template's id, and the tier it was found in (0: same base pose and view)."""
    base = base_of(old)
    tiers = (
        lambda t: same_base(t, base) and t.view == old.get("view"),
        lambda t: same_base(t, base),
        lambda t: t.category == old.get("category") and t.view == old.get("view"),
        lambda t: t.category == old.get("category"),
        lambda t: True,
    )
    for number, tier in enumerate(tiers):
        candidates = [t for t in library if tier(t)]
        if candidates:
            best = min(
                candidates,
                key=lambda t: (t.framing != old.get("framing"), t.gender != old.get("gender"), distance(old, t)),
            )
            return best.id, number
    raise ValueError("the current library is empty")


def main() -> int:
    library = PoseLibrary.load(aliases={})
    found = {old_id: nearest(old, library) for old_id, old in sorted(published().items()) if old_id not in library}
    aliases = {old_id: new_id for old_id, (new_id, _) in found.items()}
    ALIASES_PATH.write_text(json.dumps(aliases, indent=0, sort_keys=True) + "\n")
    tiers = [sum(tier == number for _, tier in found.values()) for number in range(5)]
    print(f"{len(aliases)} old ids mapped to {len(set(aliases.values()))} current templates in {ALIASES_PATH}")
    print(
        "same base pose and view: {}, same base pose: {}, same category and view: {}, category: {}, any: {}".format(
            *tiers
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
