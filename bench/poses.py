"""The pose library's speed: loading it, querying it, rendering from it, extracting a pose from a photo.

- cold load: a fresh Python process imports avatargen.poses.library and loads the library (datasets' import included);
- warm load: PoseLibrary.load() again in a process that has loaded it before;
- query: a filter + ranked search + page over the whole library (and with 20 private templates included, and
  grouped: one template per base pose);
- render: the OpenPose conditioning image at the engine's SD and HD sizes;
- thumbnail: drawing one gallery thumbnail, and finding it in the disk cache once drawn;
- extract: mediapipe's pose from the astronaut photo (after the first call, which loads the model).

Prints a table and writes bench/results/poses.json. Targets: query p50 < 5 ms, cold load < 2 s.

    python bench/poses.py [--repeat 200]
"""

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]

from timing import summary, timings  # noqa: E402  (bench/, the script's folder)

from avatargen.poses.library import PoseLibrary  # noqa: E402
from avatargen.poses.render import render_openpose, thumbnail_image, thumbnail_path  # noqa: E402
from avatargen.poses.template import CATEGORIES, FRAMINGS, GENDERS, VIEWS  # noqa: E402
from avatargen.presets import QUALITIES  # noqa: E402

COLD = (
    "import time; t = time.perf_counter(); from avatargen.poses.library import PoseLibrary; "
    "library = PoseLibrary.load(); print(time.perf_counter() - t, len(library))"
)
WORDS = ("", "", "", "hands", "sitting", "twirl", "three-quarter", "hip", "phone", "yoga", "wall", "arms up", "hair")
WORDS += ("hand on the chin", "lying", "jumping", "profile", "laughing", "bench", "sitting on a chair")


def random_query(rng: random.Random) -> dict:
    query = {"limit": 24, "search": rng.choice(WORDS)}
    for facet, values in (("category", CATEGORIES), ("gender", GENDERS), ("view", VIEWS), ("framing", FRAMINGS)):
        if rng.random() < 0.5:
            query[facet] = rng.sample(values, rng.randint(1, 2))
    query["offset"] = rng.choice((0, 0, 24, 48))
    return query


def measure_loads(results: dict[str, dict]) -> int:
    """Cold loads in fresh processes, and warm ones here; returns how many templates the library holds."""
    cold, wall = [], []
    for _ in range(5):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", COLD], cwd=ROOT, capture_output=True, text=True, check=True, env=os.environ
        )
        wall.append(time.perf_counter() - started)
        cold.append(float(out.stdout.split()[0]))
        templates = int(out.stdout.split()[1])
    results["cold load (import + load, fresh process)"] = summary(cold)
    results["cold process, start to exit"] = summary(wall)
    results["warm load"] = summary(timings(PoseLibrary.load, 10))
    return templates


def measure_queries(results: dict[str, dict], library: PoseLibrary, repeat: int) -> list[int]:
    """Random filter + search + page queries, plain, with private templates and grouped; returns their matches."""
    rng = random.Random(0)
    queries = [random_query(rng) for _ in range(repeat)]
    found = [library.query(**q)[1] for q in queries]
    it = iter(queries * 2)
    results["query: filter + search + page"] = summary(timings(lambda: library.query(**next(it)), repeat))
    private = [replace(t, id=f"custom-{i}", owner=1) for i, t in enumerate(list(library)[:20])]
    it = iter(queries * 2)
    results["query with 20 private templates"] = summary(
        timings(lambda: library.query(**next(it), include=private), repeat)
    )
    results["query: everything, one page"] = summary(timings(lambda: library.query(limit=24), repeat))
    it = iter(queries * 2)
    results["query: grouped by base pose"] = summary(timings(lambda: library.query(**next(it), group=True), repeat))
    return found


def measure_pictures(results: dict[str, dict], library: PoseLibrary, repeat: int) -> None:
    """Conditioning images at the quality presets' sizes, thumbnails drawn and cached, the whole library's."""
    template = library.get("portrait-chin-hand-f-front-half")  # with hands
    render_openpose(template, 64, 96)  # first use imports controlnet-aux (torch): not what is measured
    for name, quality in QUALITIES.items():
        size = (quality.width, quality.height)
        results[f"render {name.upper()} {size[0]}x{size[1]}"] = summary(
            timings(lambda size=size: render_openpose(template, *size), 30)
        )
    results["thumbnail 192x288: draw"] = summary(timings(lambda: thumbnail_image(template, 192, 288), 30))
    with tempfile.TemporaryDirectory() as cache:
        thumbnail_path(template, Path(cache))
        results["thumbnail 192x288: cached"] = summary(timings(lambda: thumbnail_path(template, Path(cache)), repeat))
        started = time.perf_counter()
        for t in library:
            thumbnail_path(t, Path(cache))
        results["thumbnails: whole library, once"] = {"runs": 1, "total_s": time.perf_counter() - started}


def measure_extraction(results: dict[str, dict]) -> None:
    """mediapipe's pose from the astronaut photo: the first call (loading the model), then 20 more."""
    from PIL import Image
    from skimage import data

    from avatargen.poses.extract import extract_pose

    photo = Image.fromarray(data.astronaut())
    started = time.perf_counter()
    extract_pose(photo)
    results["extract: first call (loads mediapipe)"] = {"runs": 1, "median_ms": 1000 * (time.perf_counter() - started)}
    results["extract: astronaut 512x512"] = summary(timings(lambda: extract_pose(photo), 20))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200, help="runs of each in-process measurement")
    args = parser.parse_args()
    results: dict[str, dict] = {}
    templates = measure_loads(results)
    library = PoseLibrary.load()
    found = measure_queries(results, library, args.repeat)
    measure_pictures(results, library, args.repeat)
    measure_extraction(results)

    report = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "templates": templates,
        "query_matches_median": statistics.median(found),
        "targets": {"query_p50_ms": 5, "cold_load_s": 2},
        "results": results,
    }
    query_ms = results["query: filter + search + page"]["median_ms"]
    cold_s = results["cold load (import + load, fresh process)"]["median_ms"] / 1000
    report["meets_targets"] = query_ms < 5 and cold_s < 2
    out = ROOT / "bench" / "results" / "poses.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))

    print(f"{templates} templates; {report['machine']}\n")
    print(f"{'measure':44} {'runs':>5} {'median':>11} {'p90':>11} {'max':>11}")
    for name, r in results.items():
        if "total_s" in r:
            print(f"{name:44} {r['runs']:>5} {r['total_s']:>10.2f}s")
            continue
        cells = [f"{r[k]:>9.2f}ms" if k in r else f"{'':>11}" for k in ("median_ms", "p90_ms", "max_ms")]
        print(f"{name:44} {r['runs']:>5} " + " ".join(cells))
    print(
        f"\nquery median {query_ms:.2f} ms (target < 5 ms), cold load median {cold_s:.2f} s (target < 2 s): "
        f"{'met' if report['meets_targets'] else 'NOT met'}\nwrote {out}"
    )


if __name__ == "__main__":
    main()
