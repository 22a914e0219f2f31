from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).resolve().parents[1] / "cluster")]

from fakeapi import make_certificates  # noqa: E402

from kubeward.cli.main import cli  # noqa: E402


@pytest.fixture(scope="session")
def webhook_certs(tmp_path_factory) -> Path:
    """Certificates made by `kubeward webhook certs` (the Done-when path)."""
    out = tmp_path_factory.mktemp("webhook-certs")
    result = CliRunner().invoke(cli, ["webhook", "certs", "--service", "kubeward-webhook", "--namespace", "kubeward",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def api_certs(tmp_path_factory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("api-pki"))


