"""The image's runtime stage: an unprivileged user, no compilers, writable paths declared.
(No Docker engine runs here: hadolint lints the file in `make lint`, this reads it.)"""

from __future__ import annotations

import re

from manualqa.config import PROJECT_ROOT

DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
STAGES = re.split(r"^FROM ", DOCKERFILE, flags=re.MULTILINE)[1:]


def test_the_runtime_stage_runs_as_an_unprivileged_user():
    runtime = STAGES[-1]
    users = re.findall(r"^USER (\S+)", runtime, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"0", "root"}


def test_no_build_tools_reach_the_runtime_stage():
    runtime = STAGES[-1]
    assert not re.search(r"build-essential|gcc|g\+\+|apt-get install", runtime)
    assert "COPY --from=build /opt/venv /opt/venv" in runtime


def test_the_base_image_is_pinned_to_a_version():
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", DOCKERFILE, flags=re.MULTILINE)
    assert base and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base[1])


def test_writable_paths_are_declared_for_a_read_only_root():
    runtime = STAGES[-1]
    assert 'VOLUME ["/data"]' in runtime
    for variable in ("HOME=/tmp", "XDG_CACHE_HOME=/tmp/cache", "MANUALQA_DATA_DIR=/data"):
        assert variable in runtime
    assert "--read-only --tmpfs /tmp" in DOCKERFILE  # the documented run command
