"""The findings store, the same suite on SQLite and PostgreSQL: points, first seen / last seen /
fixed at, reopening, history per point and hour, diff between points, fleets, migrations, and a
writer killed mid-point leaving nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from kubeward.cli.main import cli
from kubeward.store import Entry, Store, StoreError, normalize_url, parse_since

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "demo")


def entry(i: int, severity: str = "high") -> Entry:
    return Entry(f"fp-{i:06d}", "KW-POD-001", severity, "shop", "Pod", f"pod-{i}", "spec.containers[0]", f"finding {i}")


def test_points_keep_first_seen_last_seen_and_fixed_at(store_url):
    store = Store(store_url)
    t0 = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
    p1 = store.record_entries("prod", [entry(1), entry(2)], "scan", when=t0)
    p2 = store.record_entries("prod", [entry(2), entry(3)], "scan", when=t0 + timedelta(minutes=30))
    p3 = store.record_entries("prod", [entry(1), entry(3)], "watch", when=t0 + timedelta(hours=1, minutes=5))
    assert (p1.appeared, p1.fixed, p2.appeared, p2.fixed, p3.appeared, p3.fixed) == (2, 0, 1, 1, 1, 1)
    assert sorted(store.open_at(p1.id)) == ["fp-000001", "fp-000002"]
    assert sorted(store.open_at(p2.id)) == ["fp-000002", "fp-000003"]
    assert sorted(store.open_at(p3.id)) == ["fp-000001", "fp-000003"]  # fp-1 fixed, then back
    from sqlalchemy import select

    from kubeward.store.models import StoredFinding

    with store.engine.connect() as connection:
        rows = {r.fingerprint: r for r in connection.execute(select(StoredFinding.__table__))}
    def utc(moment):
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    assert utc(rows["fp-000002"].fixed_at) == t0 + timedelta(hours=1, minutes=5)
    assert utc(rows["fp-000002"].first_seen) == t0 and utc(rows["fp-000002"].last_seen) == t0 + timedelta(minutes=30)
    assert rows["fp-000001"].fixed_at is None and utc(rows["fp-000001"].first_seen) == t0
    hours = store.history("prod", per="hour")
    assert [(h["hour"], h["points"], h["appeared"], h["fixed"], h["findings"]) for h in hours] == [
        ("2025-01-01T10:00:00Z", 2, 3, 1, 2), ("2025-01-01T11:00:00Z", 1, 1, 1, 2)]
    assert [p["id"] for p in store.history(since=t0 + timedelta(minutes=20))] == [p2.id, p3.id]
    store.close()


def test_a_fleet_writes_into_one_store_and_history_reads_any_cluster(store_url):
    for cluster in ("east", "west"):
        store = Store(store_url)  # each scanner opens the store itself; migrations run once
        store.record_entries(cluster, [entry(1), entry(2 if cluster == "east" else 3)], "push")
        store.close()
    store = Store(store_url)
    assert store.clusters() == ["east", "west"]
    assert [p.cluster for p in store.points("west")] == ["west"]
    store.close()
    result = CliRunner().invoke(cli, ["history", "--store", store_url, "--cluster", "east", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert '"cluster": "east"' in result.output and "west" not in result.output


def test_scan_store_history_and_diff_through_the_cli(store_url, tmp_path):
    runner = CliRunner()
    first = runner.invoke(cli, ["scan", EXAMPLES, "--store", store_url, "-o", "json", "--fail-on", "none"])
    second = runner.invoke(cli, ["scan", EXAMPLES, "--store", store_url, "-o", "json", "--fail-on", "none",
                                 "--exclude-rule", "KW-IMG-*"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    history = runner.invoke(cli, ["history", "--store", store_url])
    assert history.exit_code == 0 and "manifests" in history.output
    diff = runner.invoke(cli, ["diff", "point:1", "point:2", "--store", store_url, "-o", "json"])
    assert diff.exit_code == 0, diff.output  # nothing added
    assert '"removed"' in diff.output and "KW-IMG-" in diff.output
    back = runner.invoke(cli, ["diff", "point:2", "point:1", "--store", store_url])
    assert back.exit_code == 1 and back.output.strip().splitlines()[-1].startswith(tuple("123456789"))


def test_migrations_run_once_and_leave_the_schema_at_head(store_url):
    Store(store_url).close()
    store = Store(store_url)
    from sqlalchemy import text

    with store.engine.connect() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar_one() == "0001"
    store.close()


WRITER = textwrap.dedent("""
    import sys, time
    from kubeward.store import Entry, Store
    import sqlalchemy.engine.base as base
    store = Store(sys.argv[1])
    store.record_entries("prod", [Entry(f"old-{i}", "KW-POD-001", "high", "ns", "Pod", f"p{i}", "spec", "m") for i in range(50)], "scan")
    original = base.Connection.execute
    calls = []
    def slow(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            print("in-transaction", flush=True)
            time.sleep(60)  # killed here, mid-point
        return original(self, *args, **kwargs)
    base.Connection.execute = slow
    store.record_entries("prod", [Entry(f"new-{i}", "KW-POD-001", "high", "ns", "Pod", f"q{i}", "spec", "m") for i in range(5000)], "scan")
""")


def test_a_writer_killed_mid_point_leaves_nothing_half_written(store_url):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, store_url], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "in-transaction"
        time.sleep(0.2)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(timeout=30)
    store = Store(store_url)
    points = store.points("prod")
    assert [p.findings for p in points] == [50]  # the killed point is not there, not even in part
    assert sorted(store.open_at(points[0].id)) == sorted(f"old-{i}" for i in range(50))
    from sqlalchemy import func, select

    from kubeward.store.models import Occurrence, StoredFinding

    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(StoredFinding)).scalar_one() == 50
        assert connection.execute(select(func.count()).select_from(Occurrence)).scalar_one() == 50
    after = store.record_entries("prod", [entry(1)], "scan")  # and the store goes on
    assert (after.appeared, after.fixed) == (1, 50)
    store.close()


def test_bad_store_urls_are_one_clear_error(tmp_path):
    with pytest.raises(StoreError, match="unsupported scheme 'mysql'"):
        normalize_url("mysql://root:hunter2@db/x")
    with pytest.raises(StoreError, match="does not exist"):
        Store(f"sqlite:///{tmp_path}/missing/dir/store.db")
    with pytest.raises(StoreError) as raised:
        Store("postgresql://kubeward:s3cret-pass@127.0.0.1:1/db")
    assert "s3cret-pass" not in str(raised.value)
    result = CliRunner().invoke(cli, ["history", "--store", "mysql://u:p@h/x"])
    assert result.exit_code == 2 and "unsupported scheme" in result.output
    with pytest.raises(StoreError, match="not a date"):
        parse_since("yesterday")
    assert parse_since("2h") < datetime.now(UTC)
