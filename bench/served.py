"""The app in its own process for a benchmark: tiny engine, no worker, a data dir of the caller's; users added first."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def launch(data_dir: Path, port: int, *, auth: str = "none", users: tuple[str, ...] = ()) -> subprocess.Popen:
    """Start `python app.py` and return once it answers; each user's password is "<name>-password"."""
    env = os.environ | {
        "AVATARGEN_DATA_DIR": str(data_dir),
        "AVATARGEN_AUTH": auth,
        "AVATARGEN_ENGINE": "tiny",
        "AVATARGEN_WORKER_THREADS": "0",
        "AVATARGEN_PORT": str(port),
        "HF_HUB_OFFLINE": "1",
    }
    for name in users:
        add = [sys.executable, "-m", "avatargen", "user", "add", name, "--password", f"{name}-password"]
        subprocess.run(add, cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the app did not start")
