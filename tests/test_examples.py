"""The Python client example, run as a person would against a launched app."""

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from avatargen.settings import Settings
from tests.helpers import serve

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    with serve(Settings(data_dir=tmp_path_factory.mktemp("example") / "data", engine="tiny")) as launched:
        yield launched.url


def run_example(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "client.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_client_example_makes_and_saves_an_avatar(url, photo, tmp_path):
    out = tmp_path / "me.jpg"
    done = run_example("--url", url, "--photo", str(photo), "--pose", "hands on hips", "--out", str(out), "--seed", "3")
    assert done.returncode == 0, done.stderr
    assert "completed  [####################]" in done.stdout and f"Saved {out}" in done.stdout
    with Image.open(out) as image:
        assert image.size == (512, 768)


def test_the_client_example_exits_with_the_servers_message(url, tmp_path):
    text = tmp_path / "selfie.jpg"
    text.write_text("not a photo")
    done = run_example("--url", url, "--photo", str(text), "--pose", "hands on hips")
    assert done.returncode == 1
    assert "error: That file is not a photo we can read" in done.stderr


def test_the_client_example_finds_motions_and_passes_the_servers_refusals_on(url, photo):
    done = run_example("--url", url, "--photo", str(photo), "--motion", "moonwalk backwards")
    assert done.returncode == 1 and "error: No motion matches 'moonwalk backwards'" in done.stderr
    done = run_example("--url", url, "--photo", str(photo), "--motion", "turn around", "--frames", "64")
    assert done.returncode == 1 and "frames must be a whole number from 8 to 32" in done.stderr
