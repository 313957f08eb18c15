"""Build the motions, avatargen/poses/motions.json and their previews, from poses/motions.yaml and the pose book.

A motion is keyframes of base poses (joint angles, contacts solved by poses/build.py); between them every angle,
and where the body stands, follows a smooth monotone curve, so a limb moves as a body moves it (its bones keep
their length, it never swings through the torso: every sample is checked in 3D). A still camera films it:

    keyframes --angles interpolated--> --forward kinematics--> 3D joints and hands --one camera--> 2D --canvas-->

The canvas is the framing's box around every frame at once, so the person moves in the picture (walks closer,
jumps up). `SAMPLES` frames are written per motion; avatargen.poses.motions resamples them to any frame count.
"""

import argparse
import json
from dataclasses import fields, replace
from functools import cache
from pathlib import Path

import numpy as np
import yaml
from build import (
    CAMERA_DISTANCE,
    CODES,
    LIBRARY,
    VIEW_YAW,
    Hand,
    Limb,
    Pose,
    _pose,
    out_of_range,
    project,
    skeleton,
    solved,
)

from avatargen.poses.body import BODIES, FACE
from avatargen.poses.framing import ASPECT, canvas_box
from avatargen.poses.motions import DEFAULT_PATH, MAX_STEP, PREVIEW_FRAMES, PREVIEW_SIZE, SAMPLES, MotionLibrary
from avatargen.poses.plausibility import PENETRATION_LIMIT, assess, torso_penetration
from avatargen.poses.template import CATEGORIES, GENDERS, HAND_POINTS, KEYPOINT_NAMES

DATA = Path(__file__).resolve().with_name("motions.yaml")
BASE_POSES = Path(__file__).resolve().with_name("base_poses.yaml")
PREVIEWS = DEFAULT_PATH.with_name("motions")  # avatargen/poses/motions/<slug>.webp
KEY_KEYS = {"at", "pose", "body", "arms", "legs", "hands", "mirror", "move"}
MOTION_KEYS = {"slug", "name", "category", "gender", "view", "framing", "tags", "loop", "keys"}
LATERAL = ("turn", "hip_roll", "spine_side", "spine_twist", "head_turn", "head_tilt", "roll")  # change sign in a mirror
LIMBS = ("r_arm", "l_arm", "r_leg", "l_leg")
BODY_ANGLES = tuple(f.name for f in fields(Pose) if f.name not in (*LIMBS, "r_hand", "l_hand"))
LIMB_ANGLES = tuple(f.name for f in fields(Limb))
DECIMALS = 4


def mirrored(pose: Pose) -> Pose:
    """The pose with the person's right and left swapped."""
    swapped = {"r_arm": pose.l_arm, "l_arm": pose.r_arm, "r_leg": pose.l_leg, "l_leg": pose.r_leg}
    swapped |= {"r_hand": pose.l_hand, "l_hand": pose.r_hand}
    return replace(pose, **swapped, **{name: -getattr(pose, name) for name in LATERAL})


@cache
def _presets() -> dict:
    data = yaml.safe_load(BASE_POSES.read_text())
    return {"arm": data["arms"], "leg": data["legs"]}


def key_pose(key: dict, gender: str, where: str) -> Pose:
    """A keyframe's pose: its base pose (or variant) with the contacts solved for the body, then its changes."""
    slug, _, variant_slug = key["pose"].partition("/")
    base = next((b for b in LIBRARY if b.slug == slug), None)
    if base is None:
        raise ValueError(f"{where}: no base pose {slug!r}")
    variant = next((v for v in base.variants if v.slug == variant_slug), None)
    if variant is None:
        raise ValueError(f"{where}: {slug!r} has no variant {variant_slug!r}")
    pose = _pose(key, _presets(), where, solved(base, variant, gender))
    return mirrored(pose) if key.get("mirror") else pose


def _vector(pose: Pose, move) -> np.ndarray:
    limbs = [getattr(getattr(pose, limb), angle) for limb in LIMBS for angle in LIMB_ANGLES]
    hands = [getattr(h, a) if h else 0.0 for h in (pose.r_hand, pose.l_hand) for a in ("pronate", "flex")]
    return np.array([*(getattr(pose, n) for n in BODY_ANGLES), *limbs, *hands, *move], dtype=float)


def _pose_of(vector: np.ndarray, hands: tuple[Hand | None, Hand | None]) -> tuple[Pose, np.ndarray]:
    values = iter(vector.tolist())
    body = {n: next(values) for n in BODY_ANGLES}
    limbs = {limb: Limb(**{a: next(values) for a in LIMB_ANGLES}) for limb in LIMBS}
    held = []
    for hand in hands:
        pronate, flex = next(values), next(values)
        held.append(None if hand is None else replace(hand, pronate=pronate, flex=flex))
    return Pose(**body, **limbs, r_hand=held[0], l_hand=held[1]), np.array(list(values))


def monotone_tangents(times: np.ndarray, values: np.ndarray, loop: bool) -> np.ndarray:
    """Tangents of a monotone cubic through (times, values) per column (Fritsch-Carlson): no overshoot; a motion
    eases in and out at its ends, a loop's end meets its start with the same speed."""
    secants = np.diff(values, axis=0) / np.diff(times)[:, None]
    tangents = np.zeros_like(values)
    inner = (secants[:-1] + secants[1:]) / 2
    inner[np.sign(secants[:-1]) != np.sign(secants[1:])] = 0.0
    tangents[1:-1] = inner
    if loop:  # the last keyframe is the first again
        wrap = (secants[-1] + secants[0]) / 2
        wrap[np.sign(secants[-1]) != np.sign(secants[0])] = 0.0
        tangents[0] = tangents[-1] = wrap
    for i, secant in enumerate(secants):  # limit the tangents so that each piece stays monotone
        for j in (i, i + 1):
            limit = 3 * np.abs(secant)
            tangents[j] = np.where(secant == 0, 0.0, np.clip(tangents[j], -limit, limit))
    return tangents


def interpolate(times: np.ndarray, values: np.ndarray, tangents: np.ndarray, t: float) -> np.ndarray:
    """The cubic Hermite curve through the keyframes at time t."""
    i = min(int(np.searchsorted(times, t, side="right")) - 1, len(times) - 2)
    h = times[i + 1] - times[i]
    s = (t - times[i]) / h
    h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * values[i] + h10 * h * tangents[i] + h01 * values[i + 1] + h11 * h * tangents[i + 1]


def _hands_at(poses: list[Pose], times: np.ndarray, t: float, carried: bool) -> tuple[Hand | None, Hand | None]:
    # a hand's shape is the nearer keyframe's; a motion with hands anywhere carries them in every frame
    nearest = poses[int(np.argmin(np.abs(times - t)))]
    hands = (nearest.r_hand, nearest.l_hand)
    return tuple(h or (Hand() if carried else None) for h in hands)


def grounded(points: dict[str, np.ndarray], move: np.ndarray) -> dict[str, np.ndarray]:
    """The 3D points moved by `move`, standing on the ground (y = 0) plus the move's height."""
    lowest = min(points[n][1] for n in ("r_foot", "l_foot", "r_ankle", "l_ankle"))
    shift = np.array([move[0], move[1] - lowest, move[2]])
    return {n: p + shift for n, p in points.items()}


def samples(entry: dict) -> list[tuple[Pose, dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """Each sample's pose, its 3D points (grounded, moved) and face normals, `SAMPLES` of them from start to end."""
    where = f"{DATA.name}: {entry['slug']!r}"
    keys = entry["keys"]
    for key in keys:
        if set(key) - KEY_KEYS:
            raise ValueError(f"{where}: unknown keyframe keys {sorted(set(key) - KEY_KEYS)}")
    times = np.array([float(k["at"]) for k in keys])
    if times[0] != 0 or times[-1] != 1 or np.any(np.diff(times) <= 0):
        raise ValueError(f"{where}: keyframe times must rise from 0 to 1")
    poses = [key_pose(k, entry["gender"], f"{where} at {k['at']}") for k in keys]
    carried = any(h is not None for p in poses for h in (p.r_hand, p.l_hand))
    poses = [replace(p, r_hand=p.r_hand or Hand(), l_hand=p.l_hand or Hand()) if carried else p for p in poses]
    values = np.array([_vector(p, k.get("move", (0.0, 0.0, 0.0))) for p, k in zip(poses, keys, strict=True)])
    tangents = monotone_tangents(times, values, bool(entry.get("loop")))
    body = BODIES[entry["gender"]]
    out = []
    for t in np.linspace(0.0, 1.0, SAMPLES):
        pose, move = _pose_of(interpolate(times, values, tangents, t), _hands_at(poses, times, t, carried))
        problems = out_of_range(replace(pose, turn=0.0))  # the whole body may turn on the spot
        points, normals = skeleton(pose, body)
        depth = torso_penetration(points)
        if depth is not None and depth > PENETRATION_LIMIT:
            problems.append(f"a limb goes {depth:.2f} into the torso")
        if problems:
            raise ValueError(f"{where} at {t:.3f}: {problems}")
        out.append((pose, grounded(points, move), normals))
    return out


def film(entry: dict, frames) -> list[dict]:
    """Each frame on the canvas from one still camera: 18 keypoints and, with hands, 2 x 21 hand points."""
    framing, view = CODES[entry["framing"]], CODES[entry["view"]]
    target = np.mean([np.mean([p[n] for n in KEYPOINT_NAMES], axis=0) for _, p, _ in frames], axis=0)
    if framing != "full-body":  # a tighter framing looks at the upper body
        target = np.mean([(p["neck"] + (p["r_hip"] + p["l_hip"]) / 2) / 2 for _, p, _ in frames], axis=0)
    shots = [project(points, VIEW_YAW[view], 0.0, target, CAMERA_DISTANCE[framing]) for _, points, _ in frames]
    boxes = np.array([canvas_box(p2, framing) for p2, _ in shots])  # (left, top, height) per frame
    left, top = boxes[:, 0].min(), boxes[:, 1].min()
    right = (boxes[:, 0] + boxes[:, 2] * ASPECT).max()
    bottom = (boxes[:, 1] + boxes[:, 2]).max()
    height = max(bottom - top, (right - left) / ASPECT)
    left, top = (left + right) / 2 - height * ASPECT / 2, (top + bottom) / 2 - height / 2

    def on_canvas(point) -> list[float]:
        x, y = (point[0] - left) / (height * ASPECT), (point[1] - top) / height
        return [round(x, DECIMALS), round(y, DECIMALS), 1.0] if 0 <= x <= 1 and 0 <= y <= 1 else [0.0, 0.0, 0.0]

    out = []
    for (pose, points, normals), (p2, eye) in zip(frames, shots, strict=True):
        keypoints = []
        for name in KEYPOINT_NAMES:
            seen = True
            if name in FACE:
                to_eye = (eye - points[name]) / np.linalg.norm(eye - points[name])
                seen = float(normals[name] @ to_eye) > FACE[name][2]
            keypoints.append(on_canvas(p2[name]) if seen else [0.0, 0.0, 0.0])
        hands = None
        if pose.r_hand is not None or pose.l_hand is not None:
            hands = [
                [
                    on_canvas(p2[f"{s}_hand_{i}"]) if keypoints[KEYPOINT_NAMES.index(f"{s}_wrist")][2] else [0.0] * 3
                    for i in range(HAND_POINTS)
                ]
                for s in "rl"
            ]
        out.append({"keypoints": keypoints, "hands": hands})
    return out


def motion_record(entry: dict) -> dict:
    """One motion as motions.json holds it."""
    where = f"{DATA.name}: {entry.get('slug')!r}"
    if set(entry) - MOTION_KEYS:
        raise ValueError(f"{where}: unknown keys {sorted(set(entry) - MOTION_KEYS)}")
    if entry["category"] not in CATEGORIES or entry["gender"] not in GENDERS:
        raise ValueError(f"{where}: unknown category or gender")
    frames = film(entry, samples(entry))
    return {
        "id": entry["slug"],
        "name": entry["name"],
        "category": entry["category"],
        "gender": entry["gender"],
        "view": CODES[entry["view"]],
        "framing": CODES[entry["framing"]],
        "tags": list(entry["tags"]),
        "loop": bool(entry.get("loop", False)),
        "keyframes": [{"at": float(k["at"]), "pose": k["pose"]} for k in entry["keys"]],
        "frames": frames,
    }


def check(library: MotionLibrary) -> list[str]:
    """What is wrong with the built motions at the default frame counts: plausibility and jumps between frames."""
    problems = []
    for motion in library:
        for count in (16, 32):
            frames = motion.frames(count)
            for i, frame in enumerate(frames):
                found = assess(frame.keypoints, motion.framing).problems
                problems += [f"{motion.id} frame {i}/{count}: {p}" for p in found]
            step = motion.largest_step(count)
            if step > MAX_STEP * 16 / count:
                problems.append(f"{motion.id}: a joint moves {step:.3f} canvas heights between two of {count} frames")
    return problems


def build(out: Path = DEFAULT_PATH, previews: Path = PREVIEWS) -> MotionLibrary:
    """Write motions.json and one animated WebP preview per motion; returns the library as written."""
    data = yaml.safe_load(DATA.read_text())
    records = [motion_record(entry) for entry in data["motions"]]
    slugs = [r["id"] for r in records]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"{DATA.name}: repeated slugs")
    text = json.dumps({"format": 1, "samples": SAMPLES, "motions": records}, separators=(",", ":"))
    out.write_text(text + "\n")
    library = MotionLibrary.load(out)
    problems = check(library)
    if problems:
        raise ValueError("the motions have problems:\n" + "\n".join(problems))
    previews.mkdir(parents=True, exist_ok=True)
    for motion in library:
        write_preview(motion, previews / f"{motion.id}.webp")
    return library


def write_preview(motion, path: Path) -> None:
    """An animated WebP of the motion's skeleton, `PREVIEW_FRAMES` frames looping at the clip's pace."""
    from avatargen.poses.render import thumbnail_image

    width, height = PREVIEW_SIZE
    pictures = [thumbnail_image(frame, width, height) for frame in motion.frames(PREVIEW_FRAMES)]
    duration = round(2000 / PREVIEW_FRAMES)  # ms: the default clip lasts 2 s
    pictures[0].save(
        path, format="WEBP", save_all=True, append_images=pictures[1:], duration=duration, loop=0, quality=60, method=6
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--previews", type=Path, default=PREVIEWS)
    args = parser.parse_args()
    library = build(args.out, args.previews)
    size = args.out.stat().st_size
    print(f"wrote {len(library)} motions ({SAMPLES} samples each) to {args.out} ({size} bytes)")
    print(f"wrote their previews to {args.previews}")


if __name__ == "__main__":
    main()
