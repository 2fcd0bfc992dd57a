"""evshare collect over real HTTP into real SQLite and PostgreSQL: provenance, incremental runs,
broken providers, a provider that is down, and the command itself."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evshare.client.collect import CollectOptions, Collector, Source, SourceSummary
from evshare.config import load_settings
from evshare.model import MAX_ID_LENGTH, epoch
from evshare.store import open_store
from tests.client.conftest import Evshare, ProviderFactory
from tests.client.providers import KEY, Provider, sessions_for
from tests.servers import EVSHARE

TODAY = date(2026, 3, 12)  # the providers' sessions run from 2026-03-01 for about nine days

SessionRow = tuple[str, str, int, int | None, float, int | None]


def provider_rows(source: str, provider: Provider) -> set[SessionRow]:
    """The sessions a collect of `provider` as `source` must store, in the store's terms."""
    rows = set()
    for charger_id, sessions in provider.sessions.items():
        for s in sessions + [x for x in provider.in_progress if x["chargerId"] == charger_id]:
            end = s.get("endTime")
            rows.add(
                (
                    f"{source}:{charger_id}:{s['id']}",
                    f"{source}:{charger_id}",
                    epoch(datetime.fromisoformat(s["startTime"])),
                    None if end is None else epoch(datetime.fromisoformat(end)),
                    float(s["energy"]),
                    s.get("chargingDuration"),
                )
            )
    return rows


async def stored(database_url: str) -> tuple[set[str], set[SessionRow], dict[str, Any]]:
    store = await open_store(load_settings(database_url=database_url))
    try:
        chargers = {c.id async for c in store.export_chargers()}
        sessions = {
            (
                s.id,
                s.charger_id,
                epoch(s.start_time),
                None if s.end_time is None else epoch(s.end_time),
                s.energy_wh,
                s.charging_duration_s,
            )
            async for s in store.export_sessions(None, None, None)
        }
        marks: dict[str, Any] = {}
        for source in ("a", "b", "acme"):
            for remote, row in (await store.collected_chargers(source)).items():
                marks[f"{source}/{remote}"] = (row.charger_id, row.watermark)
    finally:
        await store.close()
    return chargers, sessions, marks


async def collect(
    database_url: str, *sources: Source, keys: dict[str, str | None] | None = None, **kw: Any
) -> list[SourceSummary]:
    store = await open_store(load_settings(database_url=database_url))
    try:
        options = CollectOptions(today=kw.pop("today", TODAY), **kw)
        given = keys or {s.name: KEY for s in sources}
        return await Collector(store, options, given).run(sources)
    finally:
        await store.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_two_providers_chargers_with_one_id_never_collide(
    provider: ProviderFactory, database_url: str
) -> None:
    with provider(chargers=5, sessions=12) as (p1, url1), provider(chargers=3) as (p2, url2):
        summaries = run(collect(database_url, Source("a", url1, "K"), Source("b", url2, "K")))
    assert [s.status for s in summaries] == ["ok", "ok"]
    chargers, sessions, marks = run(stored(database_url))
    assert {c for c in chargers if c.endswith(":CH-1")} == {"a:CH-1", "b:CH-1"}
    assert sessions == provider_rows("a", p1) | provider_rows("b", p2)
    assert marks["a/CH-1"] == ("a:CH-1", TODAY)
    assert summaries[0].sessions_new == 5 * 12
    assert summaries[0].chargers_new == 5
    assert summaries[0].requests == 1 + 5


def test_a_second_run_reads_only_the_overlap_and_changes_nothing(
    provider: ProviderFactory, database_url: str
) -> None:
    with provider(chargers=4) as (p, url):
        source = Source("a", url, "K")
        run(collect(database_url, source))
        again = run(collect(database_url, source))[0]
    assert again.sessions_new == again.sessions_updated == again.sessions_vanished == 0
    # Only the sessions from TODAY - 7 days were read again.
    recent = [s for s in p.sessions["CH-1"] if s["startTime"] >= (TODAY - timedelta(7)).isoformat()]
    assert 0 < again.sessions_unchanged == 4 * len(recent) < 4 * len(p.sessions["CH-1"])
    assert again.chargers_unchanged == 4
    assert run(stored(database_url))[1] == provider_rows("a", p)


def test_late_changed_and_vanished_sessions_in_the_window_are_reported(
    provider: ProviderFactory, database_url: str
) -> None:
    with provider(chargers=2) as (p, url):
        source = Source("a", url, "K")
        run(collect(database_url, source))
        rows = p.sessions["CH-1"]
        rows[-2] = {**rows[-2], "energy": 99.5}  # corrected
        gone = rows.pop(-5)  # withdrawn
        late = {**rows[-1], "id": "CH-1-late", "energy": 7.0}
        rows.append(late)
        again = run(collect(database_url, source))[0]
        assert run(stored(database_url))[1] == provider_rows("a", p)
    assert (again.sessions_new, again.sessions_updated, again.sessions_vanished) == (1, 1, 1)
    assert again.changed == [f"a:CH-1:{rows[-3]['id']}"]
    assert again.vanished == [f"a:CH-1:{gone['id']}"]


def test_keep_vanished_reports_but_keeps(provider: ProviderFactory, tmp_path: Path) -> None:
    from evshare.store import schema

    url_db = f"sqlite:///{tmp_path / 'k.db'}"
    schema.upgrade(url_db)
    with provider(chargers=1) as (p, url):
        source = Source("a", url, "K")
        run(collect(url_db, source))
        gone = p.sessions["CH-1"].pop(-3)
        again = run(collect(url_db, source, keep_vanished=True))[0]
    assert again.sessions_vanished == 1
    assert f"a:CH-1:{gone['id']}" in {row[0] for row in run(stored(url_db))[1]}


BROKEN = [
    ["wrong_total", "duplicates_across_pages"],
    ["storm_429"],
    ["storm_429_bare"],
    ["errors_500"],
    ["bare_arrays", "missing_optional", "bad_types"],
    ["invalid_json"],  # flaky: each body is cut the first time only
    ["unordered", "extra_fields", "null_optional", "wrong_content_type"],
    ["in_progress"],
]


@pytest.mark.parametrize("defects", BROKEN, ids=["+".join(d) for d in BROKEN])
def test_broken_providers_still_give_exactly_their_data(
    provider: ProviderFactory, tmp_path: Path, defects: list[str]
) -> None:
    from evshare.store import schema

    url_db = f"sqlite:///{tmp_path / 'c.db'}"
    schema.upgrade(url_db)
    with provider(chargers=12, defects=defects, storm=3, flaky=True) as (p, url):
        summary = run(collect(url_db, Source("a", url, "K", concurrency=3)))[0]
    assert summary.status == "ok", summary.errors
    chargers, sessions, _ = run(stored(url_db))
    assert chargers == {f"a:{c['id']}" for c in p.chargers}
    assert sessions == provider_rows("a", p)


def test_ids_longer_than_evshare_stores_are_reported_and_the_rest_collected(
    provider: ProviderFactory, database_url: str
) -> None:
    """A provider's charger id, or a session id, past model.MAX_ID_LENGTH: that charger is
    reported and left out, the rest of the source collected, on every store alike (PostgreSQL
    would refuse such ids in its serving index; SQLite would take them)."""
    with provider(chargers=3, sessions=4) as (p, url):
        long_charger = "C" * (MAX_ID_LENGTH + 1)
        p.chargers = sorted(
            [*p.chargers, {**p.chargers[0], "id": long_charger}],
            key=lambda c: str(c["id"]).encode(),
        )
        p.sessions[long_charger] = sessions_for(long_charger, 2)
        p.sessions["CH-2"][1]["id"] = "S" * (MAX_ID_LENGTH + 1)
        summary = run(collect(database_url, Source("a", url, "K")))[0]
    assert summary.status == "partial"
    assert len(summary.errors) == 2
    assert summary.errors[0].startswith(f"charger {'C' * 40}...: its id is longer than 128")
    assert summary.errors[1].startswith("charger CH-2: a session's id is longer than 128")
    chargers, sessions, _ = run(stored(database_url))
    assert chargers == {"a:CH-1", "a:CH-2", "a:CH-3"}
    del p.sessions[long_charger], p.sessions["CH-2"]
    # CH-2 is kept as a charger, its sessions left as they were (none): its next run retries.
    assert sessions == provider_rows("a", p)


def test_timeouts_are_retried(provider: ProviderFactory, tmp_path: Path) -> None:
    from evshare.store import schema

    url_db = f"sqlite:///{tmp_path / 't.db'}"
    schema.upgrade(url_db)
    with provider(chargers=6, defects=["timeouts"], hang=1.5) as (p, url):
        summary = run(collect(url_db, Source("a", url, "K"), request_timeout=0.5))[0]
    assert summary.status == "ok"
    assert summary.retries >= 1
    assert run(stored(url_db))[1] == provider_rows("a", p)


def test_large_answers_are_split_by_date_so_memory_stays_bounded(
    provider: ProviderFactory, tmp_path: Path
) -> None:
    from evshare.store import schema

    url_db = f"sqlite:///{tmp_path / 's.db'}"
    schema.upgrade(url_db)
    with provider(chargers=2, sessions=40) as (p, url):
        summary = run(collect(url_db, Source("a", url, "K"), max_bytes=3000))[0]
    assert summary.status == "ok"
    assert summary.requests > 1 + 2 * 4
    assert run(stored(url_db))[1] == provider_rows("a", p)


def test_a_provider_that_is_down_does_not_stop_the_others(
    provider: ProviderFactory, tmp_path: Path
) -> None:
    from evshare.store import schema

    url_db = f"sqlite:///{tmp_path / 'd.db'}"
    schema.upgrade(url_db)
    with provider(defects=["down"]) as (_, down), provider(chargers=3) as (p, up):
        summaries = run(collect(url_db, Source("a", down, "K"), Source("b", up, "K"), budget=2.0))
    assert [s.status for s in summaries] == ["failed", "ok"]
    assert "gave up" in summaries[0].errors[0]
    assert run(stored(url_db))[1] == provider_rows("b", p)


def test_a_refused_key_fails_that_source_clearly(provider: ProviderFactory, tmp_path: Path) -> None:
    from evshare.store import schema

    url_db = f"sqlite:///{tmp_path / 'r.db'}"
    schema.upgrade(url_db)
    with provider() as (_, url):
        [summary] = run(collect(url_db, Source("a", url, "K"), keys={"a": "wrong"}))
    assert summary.status == "failed"
    assert "refused the key" in summary.errors[0]


def evshare(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [EVSHARE, *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **env},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.mark.process
def test_the_command_with_a_sources_file(provider: ProviderFactory, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"EVSHARE_DATABASE_URL": db, "A_KEY": KEY, "B_KEY": KEY}
    assert evshare("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    with (
        provider(chargers=3) as (p1, url1),
        provider(chargers=2, defects=["bare_arrays"]) as (
            p2,
            url2,
        ),
    ):
        (tmp_path / "sources.toml").write_text(
            f'[[source]]\nname = "a"\nurl = "{url1}"\nkey_env = "A_KEY"\nprovince = "AB"\n\n'
            f'[[source]]\nname = "b"\nurl = "{url2}"\nkey_env = "B_KEY"\nconcurrency = 2\n'
            'since = "2026-03-02"\n'
        )
        done = evshare("collect", "--sources", "sources.toml", "--json", env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        body = json.loads(done.stdout)
        assert [s["status"] for s in body["sources"]] == ["ok", "ok"]
        assert body["sources"][1]["profile"] == "1.0.7"
        assert "a: ok: 3/3 chargers" in done.stderr  # plain progress lines off a terminal
        table = evshare("collect", "--sources", "sources.toml", env=env, cwd=tmp_path)
        assert table.returncode == 0
        assert "evshare collect" in table.stdout
        one = evshare("collect", "a", url1, "--key-env", "A_KEY", env=env, cwd=tmp_path)
        assert one.returncode == 0
    since = {
        row for row in provider_rows("b", p2) if row[2] >= epoch(datetime(2026, 3, 2, tzinfo=UTC))
    }
    assert run(stored(db))[1] == provider_rows("a", p1) | since


@pytest.mark.process
def test_user_errors_are_one_line(tmp_path: Path) -> None:
    env = {"EVSHARE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    none = evshare("collect", env=env, cwd=tmp_path)
    assert none.returncode == 1
    assert "--sources" in none.stderr
    unset = evshare(
        "collect", "a", "http://127.0.0.1:9", "--key-env", "NOPE_NOT_SET", env=env, cwd=tmp_path
    )
    assert "NOPE_NOT_SET" in unset.stderr
    (tmp_path / "s.toml").write_text('[[source]]\nname = "a:b"\nurl = "http://x"\n')
    bad = evshare("collect", "--sources", "s.toml", env=env, cwd=tmp_path)
    assert "source name 'a:b'" in bad.stderr
    (tmp_path / "k.toml").write_text('[[source]]\nname = "a"\nurl = "http://x"\nkey = "s"\n')
    assert "key_env" in evshare("collect", "--sources", "k.toml", env=env, cwd=tmp_path).stderr


def test_collecting_from_evshare_itself_in_both_profiles(
    evshare_server: Evshare, tmp_path: Path
) -> None:
    from evshare.store import schema
    from tests.api.conftest import CHARGERS, SESSIONS

    url_db = f"sqlite:///{tmp_path / 'e.db'}"
    schema.upgrade(url_db)
    source = Source("op", evshare_server.base, "K")
    keys: dict[str, str | None] = {"op": evshare_server.keys.all}
    [summary] = run(collect(url_db, source, keys=keys))
    assert summary.status == "ok", summary.errors
    chargers, sessions, _ = run(stored(url_db))
    assert chargers == {f"op:{c.id}" for c in CHARGERS}
    assert sessions == {
        (
            f"op:{s.charger_id}:{s.id}",
            f"op:{s.charger_id}",
            epoch(s.start_time),
            epoch(s.end_time),
            s.energy_wh,
            s.charging_duration_s,
        )
        for s in SESSIONS
        if s.end_time is not None  # in progress: not served, so not collected
    }
