"""The likeness measure's cost and what it says: dlib's face descriptor on real photos, and the distances.

- describe: the face found (MediaPipe) and its 128-d descriptor (dlib's ResNet), per photo;
- likeness of 4 candidates against 3 photos: what best of 4 adds to a job on the worker, after the images arrive;
- the distances behind the score: the astronaut against a mirrored, smaller copy of herself, and against the
  cameraman (another person).

Prints a table and writes bench/results/likeness.json. Target: a descriptor under 250 ms after the first.

    python bench/likeness.py [--repeat 10]
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

from PIL import Image, ImageOps
from skimage import data
from timing import summary, timings  # bench/, the script's folder

from avatargen.engine import likeness

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 250  # one descriptor, after the first call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10, help="calls of each measure after the first")
    args = parser.parse_args()
    her = Image.fromarray(data.astronaut())
    again = ImageOps.mirror(her).resize((400, 400))
    him = Image.fromarray(data.camera()).convert("RGB").resize((1024, 1024))

    started = time.perf_counter()
    mine = likeness.describe(her)
    results = {"first call (loads the models)": {"runs": 1, "median_ms": 1000 * (time.perf_counter() - started)}}
    results["describe 512x512"] = summary(timings(lambda: likeness.describe(her), args.repeat))
    results["best of 4 against 3 photos"] = summary(
        timings(lambda: likeness.likeness([again] * 4, [her, again, her]), max(1, args.repeat // 3))
    )
    distances = {
        "same person (mirrored, resized)": likeness.distance(mine, likeness.describe(again)),
        "another person (the cameraman)": likeness.distance(mine, likeness.describe(him)),
    }
    describe_ms = results["describe 512x512"]["median_ms"]
    report = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "targets": {"describe_ms": TARGET_MS},
        "results": results,
        "distances": {name: {"distance": d, "score": likeness.score(d)} for name, d in distances.items()},
        "meets_targets": describe_ms < TARGET_MS,
    }
    out = ROOT / "bench" / "results" / "likeness.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))

    print(f"{report['machine']}\n")
    print(f"{'measure':32} {'runs':>5} {'median':>11} {'p90':>11} {'max':>11}")
    for name, r in results.items():
        cells = [f"{r[k]:>9.2f}ms" if k in r else f"{'':>11}" for k in ("median_ms", "p90_ms", "max_ms")]
        print(f"{name:32} {r['runs']:>5} " + " ".join(cells))
    for name, d in distances.items():
        print(f"{name:32} distance {d:.3f} → likeness {likeness.score(d)}")
    verdict = "met" if report["meets_targets"] else "NOT met"
    print(f"\ndescribe median {describe_ms:.1f} ms (target < {TARGET_MS} ms): {verdict}\nwrote {out}")


if __name__ == "__main__":
    main()
