import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
for name in [key for key in os.environ if key.startswith("AVATARGEN_")]:
    del os.environ[name]

import importlib.util  # noqa: E402
import random  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from avatargen.db.tables import Generation, User  # noqa: E402
from avatargen.engine.engine import GenerationRequest  # noqa: E402
from avatargen.generations.options import GenerationOptions  # noqa: E402
from avatargen.poses.library import PoseLibrary  # noqa: E402
from avatargen.runtime import Runtime, build_runtime  # noqa: E402
from avatargen.services import Services  # noqa: E402
from avatargen.settings import Settings  # noqa: E402
from tests.helpers import Clock  # noqa: E402
from tests.servers import PostgresServer, RedisServer, postgres_missing, redis_missing  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    group = parser.getgroup("order", "test order: every test passes in any order, not only the file's")
    group.addoption("--reverse-order", action="store_true", help="run the collected tests last to first")
    group.addoption("--shuffle-seed", type=int, metavar="N", help="shuffle the files, and the tests in each, by seed N")


def pytest_collection_modifyitems(config, items):
    if (seed := config.getoption("--shuffle-seed")) is not None:
        shuffle = random.Random(seed).shuffle
        by_file: dict[str, list] = {}
        for item in items:  # a file's tests stay together, so each module-scoped app is launched once
            by_file.setdefault(item.nodeid.split("::")[0], []).append(item)
        files = list(by_file.values())
        shuffle(files)
        for tests in files:
            shuffle(tests)
        items[:] = [item for tests in files for item in tests]
    if config.getoption("--reverse-order"):
        items.reverse()


class FakeEngine:
    """Stands in for the slow model: records requests and paints a flat image of the requested size."""

    name = "fake"
    placeholder = True

    def __init__(self, *, gated: bool = False):
        self.requests: list[GenerationRequest] = []
        self.calls: list[int] = []  # batch size of each generate() call
        self.fail_with: Exception | None = None
        self.gate = threading.Event() if gated else None  # generate() waits for gate.set() (a job "mid-run")
        self.started = threading.Event()

    def generate(self, requests, progress=None, preview=None):
        self.started.set()
        if self.gate is not None:
            self.gate.wait(30)
        if self.fail_with is not None:
            raise self.fail_with
        self.requests.extend(requests)
        self.calls.append(len(requests))
        for step in range(1, 3):
            if progress:
                progress(step, 2)
        return [Image.new("RGB", (r.width, r.height), (r.seed * 40 % 256, 80, 120)) for r in requests]


@pytest.fixture(scope="session", autouse=True)
def gradio_cache(tmp_path_factory):
    """Gradio's upload cache for this run alone: files there are named by content, so another run on the machine
    (or its upload purge) would otherwise share, and delete, this run's uploads."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio")))
        yield


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server on loopback for the whole session (skipped when it cannot run here)."""
    if reason := postgres_missing():
        pytest.skip(reason)
    server = PostgresServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server():
    """A throwaway Redis server on loopback for the whole session (skipped when it cannot run here)."""
    if reason := redis_missing():
        pytest.skip(reason)
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request) -> dict:
    """Where data and queue live: SQLite files (the default), or a fresh PostgreSQL database and an empty Redis."""
    if request.param == "sqlite":
        return {}
    redis = request.getfixturevalue("redis_server")
    redis.flush()
    return {"database_url": request.getfixturevalue("postgres").create_database(), "queue_url": redis.url}


@pytest.fixture
def settings(tmp_path: Path, backend: dict) -> Settings:
    return Settings(data_dir=tmp_path / "data", engine="tiny", starting_credits=100, **backend)


@pytest.fixture
def clock() -> Clock:
    """A clock the test moves by hand, for what expires, retries or backs off."""
    return Clock()


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def runtime(settings: Settings, fake_engine: FakeEngine):
    """The real runtime (SQLite file, huey SQLite queue, files) with the model faked; no worker threads."""
    built = make_runtime(settings, fake_engine)
    yield built
    built.close()


def make_runtime(settings: Settings, engine, **options) -> Runtime:
    return build_runtime(settings, load_engine=lambda: engine, **options)


def generate_batch(services: Services, user: User, *, photo, pose_ids: list[str], **options) -> list[Generation]:
    """Start generations the way the endpoints do: options parsed into one `GenerationOptions`."""
    if "more_photos" in options:
        options["more_photos"] = tuple(options["more_photos"])
    return services.generations.create(user, photo=photo, pose_ids=pose_ids, options=GenerationOptions(**options))


def generate_one(services: Services, user: User, *, photo, pose_id: str, **options) -> Generation:
    [generation] = generate_batch(services, user, photo=photo, pose_ids=[pose_id], **options)
    return generation


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A real photo of a person (scikit-image's astronaut)."""
    from skimage import data

    path = tmp_path / "astronaut.jpg"
    Image.fromarray(np.asarray(data.astronaut())).save(path, quality=92)
    return path


@pytest.fixture
def services(runtime) -> Services:
    return runtime.services


@pytest.fixture
def pose_id(services) -> str:
    return services.poses.library.query(limit=1)[0][0].id


@pytest.fixture(scope="module")
def library() -> PoseLibrary:
    return PoseLibrary.load()


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("poses_build", ROOT / "poses" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
