"""Scaling out: throughput with 1, 2 and 3 worker processes, and the ledger's contended-debit rate.

1. Throughput: throwaway PostgreSQL + Redis servers on loopback (Debian's packages), N real
   `python -m avatargen worker` processes with the tiny engine; once every worker has its engine loaded, J jobs are
   submitted through the service and timed from the first one's creation to the last one's completion.
2. Contended debits: C threads debit one person's balance at once (the service's debit transaction: row lock,
   balance, ledger insert, commit), on SQLite (WAL) and on PostgreSQL (durable defaults: fsync on).

Prints a table and writes bench/results/scale.json.

    python bench/scale.py [--jobs 24] [--workers 1 2 3] [--clients 50] [--seconds 10]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402
from sqlmodel import select  # noqa: E402

from avatargen.accounts.users import insert as insert_user  # noqa: E402
from avatargen.credits import ledger  # noqa: E402
from avatargen.db import connect  # noqa: E402
from avatargen.db.tables import FINISHED, Generation, Reason  # noqa: E402
from avatargen.generations.options import GenerationOptions  # noqa: E402
from avatargen.runtime import build_runtime  # noqa: E402
from avatargen.settings import Settings  # noqa: E402
from tests.servers import PostgresServer, RedisServer  # noqa: E402

NO_LIMITS = {"rate_per_minute": {}, "jobs_in_flight": {}}


def throughput(pg: PostgresServer, redis: RedisServer, workers: int, jobs: int, base: Path) -> dict:
    redis.flush()
    settings = Settings(
        data_dir=base / f"data-{workers}", engine="tiny", database_url=pg.create_database(), queue_url=redis.url,
        worker_threads=0, starting_credits=10 * jobs, **NO_LIMITS,
    )  # fmt: skip
    runtime = build_runtime(settings)
    env = os.environ | {
        "AVATARGEN_DATA_DIR": str(settings.data_dir),
        "AVATARGEN_DATABASE_URL": settings.database_url,
        "AVATARGEN_QUEUE_URL": redis.url,
        "AVATARGEN_ENGINE": "tiny",
    }
    logs = [base / f"worker-{workers}-{index}.log" for index in range(workers)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "avatargen", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )  # fmt: skip
        for log in logs
    ]
    try:
        deadline = time.monotonic() + 600
        while not all("engine tiny ready" in log.read_text(errors="replace") for log in logs):
            assert time.monotonic() < deadline and all(p.poll() is None for p in processes), "workers did not start"
            time.sleep(0.5)
        photo = base / "astronaut.jpg"
        Image.fromarray(np.asarray(data.astronaut())).save(photo, quality=92)
        services = runtime.services
        user = services.users.add(f"bench{workers}")
        pose_id = services.poses.library.query(limit=1)[0][0].id
        for seed in range(jobs):
            services.generations.create(user, photo=photo, pose_ids=[pose_id], options=GenerationOptions(seed=seed))
        while True:
            with connect.transaction(services.database) as session:
                rows = session.exec(select(Generation).where(Generation.user_id == user.id)).all()
            if all(row.status in FINISHED for row in rows):
                break
            assert time.monotonic() < deadline, "jobs did not finish"
            time.sleep(0.2)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)
        runtime.close()
    seconds = (max(r.completed_at for r in rows) - min(r.created_at for r in rows)).total_seconds()
    return {
        "workers": workers,
        "jobs": jobs,
        "failed": sum(r.status == "failed" for r in rows),
        "seconds": round(seconds, 2),
        "jobs_per_s": round(jobs / seconds, 3),
    }


def contended_debits(url: str, *, clients: int, seconds: float) -> dict:
    """`clients` threads debiting one balance through the service's debit transaction, for `seconds`."""
    engine = connect.create_db_engine(url, pool_size=clients, max_overflow=0)
    connect.init_db(engine)
    with connect.transaction(engine) as session:
        user_id = insert_user(session, username="contended", starting_credits=10**9).id
    done = [0] * clients
    stop = threading.Event()

    def debit(index: int) -> None:
        while not stop.is_set():
            with connect.transaction(engine) as session:
                ledger.lock_user(session, user_id)
                if ledger.balance(session, user_id) >= 1:
                    ledger.record(session, user_id=user_id, delta=-1, reason=Reason.generation)
            done[index] += 1

    threads = [threading.Thread(target=debit, args=(index,)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    with connect.transaction(engine) as session:
        balance = ledger.balance(session, user_id)
    engine.dispose()
    assert balance == 10**9 - sum(done), "the ledger lost or doubled a debit"
    return {
        "backend": url.split(":")[0],
        "clients": clients,
        "debits": sum(done),
        "debits_per_s": round(sum(done) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="avatargen-scale-"))
    pg, redis = PostgresServer(durable=True), RedisServer()
    try:
        debits = [
            contended_debits(f"sqlite:///{base / 'debits.db'}", clients=args.clients, seconds=args.seconds),
            contended_debits(pg.create_database(), clients=args.clients, seconds=args.seconds),
        ]
        runs = [throughput(pg, redis, workers, args.jobs, base) for workers in args.workers]
    finally:
        pg.stop()
        redis.stop()

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print("\nthroughput, tiny engine, PostgreSQL + Redis (SD 512x768, batch size 4)")
    print(f"{'workers':>8} {'jobs':>6} {'seconds':>9} {'jobs/s':>8} {'failed':>7}")
    for run in runs:
        print(
            f"{run['workers']:>8} {run['jobs']:>6} {run['seconds']:>9.2f} {run['jobs_per_s']:>8.3f} {run['failed']:>7}"
        )
    print(f"\ncontended debits on one balance, {args.clients} concurrent clients, {args.seconds:.0f} s")
    print(f"{'backend':>12} {'debits':>8} {'debits/s':>10}")
    for run in debits:
        print(f"{run['backend']:>12} {run['debits']:>8} {run['debits_per_s']:>10.1f}")

    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "scale.json").write_text(
        json.dumps(
            {
                "when": datetime.now().isoformat(timespec="seconds"),
                "machine": {"arch": platform.machine(), "cpus": os.cpu_count(), "platform": platform.platform()},
                "throughput": runs,
                "contended_debits": debits,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
