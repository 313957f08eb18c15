"""The README's claims a newcomer acts on first: its Python snippet runs as written against a launched app."""

import shutil
import subprocess
import sys
from pathlib import Path

from avatargen.settings import Settings
from tests.conftest import FakeEngine
from tests.helpers import serve

ROOT = Path(__file__).parents[1]
README_URL = "http://127.0.0.1:7860/"


def python_snippet() -> str:
    section = (ROOT / "README.md").read_text().split("## From Python\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readmes_python_snippet_runs_as_written(tmp_path, photo):
    snippet = python_snippet()
    assert README_URL in snippet
    settings = Settings(data_dir=tmp_path / "data", auth="password", engine="tiny")
    with serve(settings, engine=FakeEngine()) as app:
        app.runtime.services.users.add("alice", password="her-password")
        shutil.copy(photo, tmp_path / "me.jpg")
        done = subprocess.run(
            [sys.executable, "-c", snippet.replace(README_URL, app.url)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr
    credits, image_path = done.stdout.strip().splitlines()[-1].split(" credits: ")  # after the client's own line
    assert int(credits) == 7  # HD: 5 + 2
    assert Path(image_path).stat().st_size > 0
