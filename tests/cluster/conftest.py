from __future__ import annotations

import copy
from contextlib import contextmanager
from pathlib import Path

import pytest

from fakeapi import FakeApiServer, FakeCluster, make_certificates, write_kubeconfig
from kubeward.sources.loader import load_paths

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_objects(name: str = "small.yaml") -> list[dict]:
    return [doc.data for doc in load_paths([str(FIXTURES / name)]).documents if doc.data]


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def serve(certs, tmp_path):
    """serve(objects=None, auth="token", **faults) -> (FakeApiServer, kubeconfig path), as a context."""

    @contextmanager
    def start(objects=None, auth="token", **faults):
        cluster = FakeCluster(copy.deepcopy(objects if objects is not None else fixture_objects()), **faults)
        with FakeApiServer(cluster, certs) as server:
            yield server, write_kubeconfig(tmp_path / f"kubeconfig-{auth}", {"test": server.url}, certs, auth)

    return start
