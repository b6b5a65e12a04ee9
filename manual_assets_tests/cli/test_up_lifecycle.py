"""`manualqa up` stops cleanly on SIGTERM and SIGINT, once or repeated, while it
materializes and while it serves: the real command in its own process group, data dir
and ports; afterwards no process it started and no embedded PostgreSQL is left."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from manual_assets_tests.pipeline_fixtures import copy_manuals
from manualqa.config import PROJECT_ROOT
from sql.embedded import running_embedded_postgres, stop_embedded_postgres

pytestmark = pytest.mark.slow

MANUAL = "verdant-garden-tech__ic-6__user-guide.md"
GOLDEN = """questions:
  - id: ic6-hotspot-password
    question: What is the default password of the AquaSense IC-6 setup network?
    manual_key: verdant-garden-tech__ic-6__user-guide
    pages: []
    section: 3.1 Connecting to Wi-Fi
    answer_contains: ["verdant-ic6"]
    answerable: true
    split: test
"""
UP_TIMEOUT_S = 420
STOP_TIMEOUT_S = 90


@dataclass
class Site:
    """Where one `manualqa up` keeps its state and what it reads."""

    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "var"

    @property
    def pg_data_dir(self) -> Path:
        return self.data_dir / "postgres"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    # Under the temp dir, not pytest's basetemp: the embedded server runs as another user
    # when the tests run as root (see conftest._server_data_dir).
    root = Path(tempfile.mkdtemp(prefix="manualqa-up-"))
    copy_manuals(root / "manuals", [MANUAL])
    (root / "golden.yaml").write_text(GOLDEN)
    try:
        yield Site(root)
    finally:
        stop_embedded_postgres(root / "var" / "postgres", mode="immediate")
        shutil.rmtree(root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Up:
    process: subprocess.Popen[bytes]
    log: Path
    api: str
    ui: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout_s: float = UP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.output():
                return
            assert self.process.poll() is None, f"exited early:\n{self.output()[-4000:]}"
            time.sleep(0.5)
        raise AssertionError(f"no {text!r} within {timeout_s} s:\n{self.output()[-4000:]}")

    def tree(self) -> list[psutil.Process]:
        """The command and every process below it, as they are now."""
        main = psutil.Process(self.process.pid)
        return [main, *main.children(recursive=True)]


def _start(site: Site, name: str) -> Up:
    api_port, ui_port = _free_port(), _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DAGSTER_HOME", "DAGSTER_POSTGRES_URL"}
        and not k.startswith("MANUALQA_")
    }
    env |= {
        "MANUALQA_DATA_DIR": str(site.data_dir),
        "MANUALQA_SOURCES__FOLDER__PATH": str(site.root / "manuals"),
        "MANUALQA_EVALS__GOLDEN_SET": str(site.root / "golden.yaml"),
        "MANUALQA_SERVING__PORT": str(api_port),
        "MANUALQA_DAGSTER__PORT": str(ui_port),
        "HF_HUB_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "TOKENIZERS_PARALLELISM": "false",
    }
    log = site.root / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "up"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a shell job or a service has
        )
    return Up(process, log, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop_and_check(up: Up, site: Site, signals: list[signal.Signals]) -> None:
    """Signal the command's process group, then assert that nothing of it is left."""
    started = up.tree()
    postmaster = running_embedded_postgres(site.pg_data_dir)
    assert postmaster is not None
    for n, signum in enumerate(signals):
        if n:
            time.sleep(0.5)
        os.killpg(up.process.pid, signum)
    try:
        code = up.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        up.process.kill()
        raise AssertionError(f"running {STOP_TIMEOUT_S} s on:\n{up.output()[-4000:]}") from exc
    assert code == 0, up.output()[-4000:]
    left = [p for p in started if _alive(p)]
    assert left == [], [p.cmdline() for p in left]
    assert not _alive_pid(postmaster.pid)
    assert running_embedded_postgres(site.pg_data_dir) is None


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _alive_pid(pid: int) -> bool:
    try:
        return _alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False


def test_sigterm_while_materializing_stops_cleanly(site):
    up = _start(site, "materializing")
    up.wait_for("fetching ")
    _stop_and_check(up, site, [signal.SIGTERM])
    assert "Manual QA is up." not in up.output()


def _serve(site: Site, name: str) -> Up:
    up = _start(site, name)
    up.wait_for("Manual QA is up.")
    assert _answers(f"{up.api}/readyz") and _answers(f"{up.ui}/server_info")
    return up


def _post(url: str, body: dict, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_sigterm_while_serving_stops_everything(site):
    up = _serve(site, "sigterm")  # /readyz answers: the stopped catch-up was resumed
    # The banner's development key answers the sample query; without a key, nothing does.
    printed = re.search(r"API key\s*:\s*(mqa_\S+)", up.output())
    assert printed, up.output()[-2000:]
    assert f"authorization: Bearer {printed[1]}" in up.output()
    question = {"question": "What is the default password of the AquaSense IC-6 setup network?"}
    auth = {"authorization": f"Bearer {printed[1]}"}
    assert _post(f"{up.api}/v1/ask", question, auth) == 200
    assert _post(f"{up.api}/v1/ask", question, {}) == 401
    _stop_and_check(up, site, [signal.SIGTERM])


def test_sigint_while_serving_stops_everything(site):
    up = _serve(site, "sigint")
    assert '"rebuilt": 0' in up.output()  # nothing changed since the last start
    _stop_and_check(up, site, [signal.SIGINT])


def test_repeated_signals_do_not_cut_the_shutdown_short(site):
    up = _serve(site, "repeated")
    _stop_and_check(up, site, [signal.SIGTERM, signal.SIGINT, signal.SIGTERM])
    assert "already stopping" in up.output()
