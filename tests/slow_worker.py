"""`python -m avatargen worker` with only the model replaced: a fake that takes `SLOW_WORKER_S` per image.

Everything else is the real worker process (queue, claims, heartbeats, storage, ledger), so crash tests at scale
run hundreds of jobs in seconds: `python -m tests.slow_worker`.
"""

import os
import sys
import time

from PIL import Image

from avatargen import __main__ as cli
from avatargen import runtime

SECONDS_PER_IMAGE = float(os.environ.get("SLOW_WORKER_S", "0.3"))


class SlowEngine:
    name = "slow-fake"
    placeholder = True

    def generate(self, requests, progress=None, preview=None):
        steps = 4
        for step in range(1, steps + 1):
            time.sleep(SECONDS_PER_IMAGE * len(requests) / steps)
            if progress:
                progress(step, steps)
        return [Image.new("RGB", (r.width, r.height), (r.seed % 256, 80, 120)) for r in requests]


if __name__ == "__main__":
    runtime._load_engine = lambda settings: SlowEngine()
    sys.exit(cli.main(["worker"]))
