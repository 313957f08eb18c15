"""Start-up as a newcomer sees it: `python app.py` on a fresh data folder, the engine left at `auto`, no
HF_HUB_OFFLINE — on a machine that cannot reach the Hub it falls back to the placeholder engine.

Measures the seconds until the page serves and until the engine is ready, the lines printed meanwhile, then the
seconds a Ctrl-C (SIGINT) takes to end the process and its exit code. Prints the figures and writes
bench/results/startup.json.

    python bench/startup.py [--runs 2] [--port 7874]
"""

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_start(port: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("AVATARGEN_", "HF_"))}
        environment |= {"AVATARGEN_DATA_DIR": str(Path(folder) / "data"), "AVATARGEN_PORT": str(port)}
        started = time.monotonic()
        server = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=environment, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        lines, serving_s, ready_s = [], None, None
        for line in server.stdout:
            lines.append(line.rstrip("\n"))
            if serving_s is None and ("serving on" in line or "Running on local URL" in line):
                serving_s = time.monotonic() - started
            if "ready in" in line or "could not be loaded" in line:
                ready_s = time.monotonic() - started
                break
        asked = time.monotonic()
        server.send_signal(signal.SIGINT)
        rest = server.stdout.read().splitlines()
        code = server.wait(timeout=120)
        return {
            "serving_s": serving_s,
            "engine_ready_s": ready_s,
            "lines_until_ready": len([line for line in lines if line.strip()]),
            "stop_s": time.monotonic() - asked,
            "exit_code": code,
            "lines_at_stop": len([line for line in rest if line.strip()]),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--port", type=int, default=7874)
    args = parser.parse_args()
    runs = [one_start(args.port) for _ in range(args.runs)]
    for run in runs:
        print(
            f"serving after {run['serving_s']:.1f} s, engine ready after {run['engine_ready_s']:.1f} s, "
            f"{run['lines_until_ready']} lines; Ctrl-C ended it in {run['stop_s']:.1f} s, exit code {run['exit_code']}"
        )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    report = {"machine": f"{platform.machine()} {os.cpu_count()} cores", "runs": runs}
    (results / "startup.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
