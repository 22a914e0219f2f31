"""The store suite runs on SQLite and on a real PostgreSQL server that this session starts from
the installed binaries (Debian's packages: /usr/lib/postgresql/*/bin) on a private port and data
directory, and stops at the end. Without PostgreSQL installed its cases are skipped, unless
KUBEWARD_REQUIRE_POSTGRES is set (`make test` sets it): then they fail."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_owner(command: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if user else command


@pytest.fixture(scope="session")
def postgres_url():
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        message = "PostgreSQL is not installed (apt-get install postgresql; `make test` does it)"
        if os.environ.get("KUBEWARD_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: its own user (Debian's package makes it)
        try:
            user = pwd.getpwnam("postgres").pw_name
        except KeyError:
            pytest.fail("running as root and there is no `postgres` user to run PostgreSQL as")
    base = Path(tempfile.mkdtemp(prefix="kubeward-pg-"))
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    if user:
        shutil.chown(base, user)
        shutil.chown(sockets, user)
    port = _free_port()
    subprocess.run(_as_owner([initdb, "-D", str(data), "-U", "kubeward", "--auth=trust", "-E", "UTF8"], user),
                   check=True, capture_output=True)
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "-t", "60", "start"], user),
                   check=True, capture_output=True)
    try:
        yield f"postgresql://kubeward@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"], user), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The same test on both backends; a fresh database each time."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    import psycopg

    name = f"t{time.time_ns()}"
    with psycopg.connect(base.replace("postgresql://", "postgresql://", 1), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + f"/{name}"
