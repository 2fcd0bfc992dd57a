"""Set-based reads for credits and audit, over SQLite and PostgreSQL alike.

These are batch questions asked by a command, not by the API: one synchronous connection per
command, and every question answered by the database in one statement - sessions are summed,
counted and compared where they lie, and only aggregates or a few examples come back.

Two things are optional and found at run time, so this module works on any schema from 0003
on: the column `chargers.province` (the operator's explicit province) and the table
`collected_chargers` (which source `evshare collect` brought a charger from; a charger without a
row there is the operator's own, source "local").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from evshare.errors import Unavailable
from evshare.store.schema import require_current

EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class ChargerFacts:
    id: str
    name: str
    serial_number: str | None
    model: str | None
    manufacturer: str | None
    max_output_power_w: float | None
    number_of_connectors: int | None
    time_zone: str | None
    latitude: float | None
    longitude: float | None
    commissioning_date: str | None
    province: str | None  # the operator's explicit value
    source: str | None


@dataclass(frozen=True, slots=True)
class BucketEnergy:
    charger_id: str
    key: str
    sessions: int
    wh: float


@dataclass(frozen=True, slots=True)
class Check:
    """One audit question: how many rows answer it, and a few of them."""

    count: int
    examples: list[dict[str, Any]]


class _Db(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...


class Analytics:
    """Open with `Analytics.open(database_url)`; use as a context manager."""

    def __init__(self, db: Any, dialect: str) -> None:
        self._db = db
        self.dialect = dialect
        self.has_province = self._has_column("chargers", "province")
        self.has_source = self._has_column("collected_chargers", "source")

    @classmethod
    @contextmanager
    def open(cls, database_url: str) -> Iterator[Analytics]:
        require_current(database_url)
        if database_url.startswith("sqlite:"):
            from evshare.store.sqlite.connection import connect, existing_folder_path

            with closing(connect(existing_folder_path(database_url))) as db:
                yield cls(db, "sqlite")
            return
        import psycopg

        try:
            pg = psycopg.connect(database_url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise Unavailable(f"cannot reach the database: {exc}") from None
        with pg:
            yield cls(pg, "postgresql")

    # --- plumbing -----------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("?", "%s")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(self._sql(sql), params).fetchall())
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"the SQLite database cannot answer: {exc}") from None

    def _has_column(self, table: str, column: str) -> bool:
        if self.dialect == "sqlite":
            rows = self._db.execute(f"PRAGMA table_info({table})").fetchall()
            return any(row[1] == column for row in rows)
        row = self._db.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_name = %s AND column_name = %s AND table_schema = current_schema()",
            (table, column),
        ).fetchone()
        return row is not None

    def _epoch(self, column: str) -> str:
        """SQL for the UTC midnight of an ISO date column, in epoch seconds."""
        if self.dialect == "sqlite":
            return f"CAST(strftime('%s', {column}) AS INTEGER)"
        return f"EXTRACT(EPOCH FROM CAST({column} AS date))::bigint"

    # --- credits ------------------------------------------------------------------------------

    def _source_of(self, alias: str) -> str:
        """SQL for the source of charger `alias`: its collect source, or 'local'."""
        if not self.has_source:
            return "'local'"
        return (
            f"COALESCE((SELECT cc.source FROM collected_chargers cc "
            f"WHERE cc.charger_id = {alias}.id), 'local')"
        )

    def chargers(self) -> list[ChargerFacts]:
        province = "c.province" if self.has_province else "NULL"
        rows = self._rows(
            "SELECT c.id, c.name, c.serial_number, c.model, c.manufacturer, "
            "c.max_output_power_w, c.number_of_connectors, c.time_zone, c.latitude, "
            f"c.longitude, c.commissioning_date, {province}, {self._source_of('c')} "
            "FROM chargers c ORDER BY c.id"
        )
        return [ChargerFacts(*row) for row in rows]

    def sources(self) -> list[str]:
        """Every source a charger came from ('local': the operator's own)."""
        rows = self._rows(f"SELECT DISTINCT {self._source_of('c')} FROM chargers c")
        return sorted(str(row[0]) for row in rows)

    def energy_by_bucket(self, buckets: Sequence[tuple[str, str, int, int]]) -> list[BucketEnergy]:
        """Completed sessions with positive energy, summed per (charger, bucket key) over
        buckets given as (charger id, key, start epoch inclusive, end epoch exclusive). (To
        count one source only, plan buckets for its chargers only.)"""
        if not buckets:
            return []
        where = "s.end_ts IS NOT NULL AND s.energy_wh > 0"
        params: list[Any] = []
        if self.dialect == "sqlite":
            self._db.execute(
                "CREATE TEMP TABLE IF NOT EXISTS credit_buckets "
                "(charger_id TEXT, key TEXT, lo INTEGER, hi INTEGER)"
            )
            self._db.execute("DELETE FROM credit_buckets")
            self._db.executemany("INSERT INTO credit_buckets VALUES (?, ?, ?, ?)", buckets)
            source_table = "credit_buckets b"
        else:
            source_table = (
                "unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[]) "
                "AS b(charger_id, key, lo, hi)"
            )
            params = [[b[i] for b in buckets] for i in range(4)] + params
        rows = self._rows(
            f"SELECT b.charger_id, b.key, COUNT(*), SUM(s.energy_wh) FROM {source_table} "
            "JOIN sessions s ON s.charger_id = b.charger_id "
            f"AND s.start_ts >= b.lo AND s.start_ts < b.hi WHERE {where} "
            "GROUP BY b.charger_id, b.key",
            params,
        )
        return [BucketEnergy(str(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]

    def excluded_sessions(self, lo: int, hi: int) -> tuple[int, int]:
        """Sessions starting in [lo, hi) (UTC, padded by the caller) that credits leave out:
        (still in progress, zero or negative energy)."""
        (row,) = self._rows(
            "SELECT COALESCE(SUM(CASE WHEN end_ts IS NULL THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN end_ts IS NOT NULL AND energy_wh <= 0 THEN 1 ELSE 0 END), 0) "
            "FROM sessions WHERE start_ts >= ? AND start_ts < ?",
            (lo, hi),
        )
        return int(row[0]), int(row[1])

    # --- audit --------------------------------------------------------------------------------

    def _check(
        self, select: str, where: str, params: Sequence[Any] = (), *, with_: str = ""
    ) -> Check:
        """The rows of `FROM ... WHERE`: how many, and the first few of `select` - one pass
        (a window count over the whole result, then the first rows). `with_` is a WITH clause
        of MATERIALIZED steps, which keeps the planner from nesting a big scan inside a loop."""
        sql = f"SELECT {select}, COUNT(*) OVER () AS total_rows_ {where} LIMIT {EXAMPLES}"
        if with_:
            sql = f"WITH {with_} {sql}"
        try:
            cursor = self._db.execute(self._sql(sql), params)
            rows = cursor.fetchall()
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"the SQLite database cannot answer: {exc}") from None
        names = [d[0] for d in cursor.description]
        examples = [dict(zip(names[:-1], row[:-1], strict=True)) for row in rows]
        return Check(int(rows[0][-1]) if rows else 0, examples)

    _SESSION = "s.charger_id AS charger, s.id AS session, s.start_ts AS start, s.end_ts AS end_"

    def energy_over_capacity(self, tolerance: float) -> Check:
        return self._check(
            f"{self._SESSION}, s.energy_wh AS energy_wh, "
            "c.max_output_power_w * (s.end_ts - s.start_ts) / 3600.0 AS most_wh",
            "FROM sessions s JOIN chargers c ON c.id = s.charger_id "
            "WHERE s.end_ts IS NOT NULL AND c.max_output_power_w IS NOT NULL "
            "AND s.end_ts > s.start_ts "
            "AND s.energy_wh > c.max_output_power_w * (s.end_ts - s.start_ts) / 3600.0 * ?",
            (1 + tolerance,),
        )

    def overlapping(self) -> Check:
        """Sessions that start while as many others on the charger are still running as it
        has connectors (1 if unknown). A session ending exactly when another starts does not
        overlap it.

        Two steps, both riding the (charger, start) index: a running MAX(end) over the
        charger's earlier sessions finds the sessions that overlap any other (one pass, no
        sort); only those are then counted exactly, looking back no further than the
        charger's longest session."""
        with_ = (
            "running AS MATERIALIZED (SELECT s.charger_id, s.id, s.start_ts, MAX(s.end_ts) OVER "
            "(PARTITION BY s.charger_id ORDER BY s.start_ts, s.id "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_end "
            "FROM sessions s WHERE s.end_ts IS NOT NULL AND s.end_ts > s.start_ts), "
            "longest AS MATERIALIZED (SELECT charger_id, MAX(end_ts - start_ts) AS most "
            "FROM sessions WHERE end_ts IS NOT NULL GROUP BY charger_id), "
            "candidates AS MATERIALIZED (SELECT r.charger_id, r.id, r.start_ts, "
            "COALESCE(c.number_of_connectors, 1) AS connectors, l.most "
            "FROM running r JOIN chargers c ON c.id = r.charger_id "
            "JOIN longest l ON l.charger_id = r.charger_id WHERE r.previous_end > r.start_ts), "
            "counted AS MATERIALIZED (SELECT k.charger_id, k.id, k.start_ts, k.connectors, "
            "1 + (SELECT COUNT(*) FROM sessions t WHERE t.charger_id = k.charger_id "
            "AND t.start_ts >= k.start_ts - k.most AND t.start_ts <= k.start_ts "
            "AND (t.start_ts < k.start_ts OR t.id < k.id) "
            "AND t.end_ts IS NOT NULL AND t.end_ts > k.start_ts AND t.end_ts > t.start_ts"
            ") AS running FROM candidates k)"
        )
        return self._check(
            "n.charger_id AS charger, n.id AS session, n.start_ts AS start, "
            "n.running AS running, n.connectors AS connectors",
            "FROM counted n WHERE n.running > n.connectors",
            with_=with_,
        )

    def sessions_where(self, condition: str, params: Sequence[Any] = ()) -> Check:
        return self._check(
            f"{self._SESSION}, s.energy_wh AS energy_wh, s.charging_duration_s AS charging_s",
            f"FROM sessions s WHERE {condition}",
            params,
        )

    def before_commissioning(self, slack_s: int) -> Check:
        commissioned = self._epoch("commissioning_date")
        return self._check(
            f"{self._SESSION}, c.commissioning_date AS commissioned",
            "FROM commissioned c JOIN sessions s ON s.charger_id = c.id AND s.start_ts < c.limit_",
            (slack_s,),
            with_="commissioned AS MATERIALIZED (SELECT id, commissioning_date, "
            f"{commissioned} - ? AS limit_ FROM chargers WHERE commissioning_date IS NOT NULL)",
        )

    def duplicates_across_chargers(self, across_sources: bool | None = None) -> Check:
        """The same charging recorded under two charger ids that are one physical charger (the
        same serial number, or coordinates within ~11 m): matched on start, end and energy.
        `across_sources`: only pairs from two different sources (True), from one source
        (False), or any (None)."""
        same = (
            "((ca.serial_number IS NOT NULL AND ca.serial_number = cb.serial_number) OR "
            "(ca.latitude IS NOT NULL AND ROUND(ca.latitude, 4) = ROUND(cb.latitude, 4) "
            "AND ROUND(ca.longitude, 4) = ROUND(cb.longitude, 4)))"
        )
        if self.dialect == "postgresql":
            same = same.replace("ROUND(ca.latitude, 4)", "ROUND(ca.latitude::numeric, 4)")
            for col in ("cb.latitude", "ca.longitude", "cb.longitude"):
                same = same.replace(f"ROUND({col}, 4)", f"ROUND({col}::numeric, 4)")
        pairs = (
            f"SELECT ca.id AS a, cb.id AS b, {self._source_of('ca')} AS source_a, "
            f"{self._source_of('cb')} AS source_b FROM chargers ca JOIN chargers cb "
            f"ON cb.id > ca.id WHERE {same}"
        )
        if across_sources is not None:
            compare = "<>" if across_sources else "="
            pairs = f"SELECT * FROM ({pairs}) q WHERE q.source_a {compare} q.source_b"
        return self._check(
            "p.a AS charger, sa.id AS session, p.b AS other_charger, sb.id AS duplicate, "
            "p.source_a AS source, p.source_b AS other_source, sa.start_ts AS start",
            "FROM pairs p JOIN sessions sa ON sa.charger_id = p.a "
            "JOIN sessions sb ON sb.charger_id = p.b AND sb.start_ts = sa.start_ts "
            "AND sb.end_ts = sa.end_ts AND sb.energy_wh = sa.energy_wh",
            with_=f"pairs AS MATERIALIZED ({pairs})",
        )

    def chargers_missing(self, column: str) -> Check:
        return self._check(
            "id AS charger, name", f"FROM chargers WHERE {column} IS NULL ORDER BY id"
        )

    def chargers_missing_coordinates(self) -> Check:
        return self._check(
            "id AS charger, name",
            "FROM chargers WHERE latitude IS NULL OR longitude IS NULL ORDER BY id",
        )

    def silences(self, busy_per_day: float, gap_days: float) -> Check:
        """Gaps of `gap_days` or more between consecutive sessions on a charger that averages
        `busy_per_day` sessions a day or more over its active span."""
        gap_s = int(gap_days * 86400)
        with_ = (
            "busy AS MATERIALIZED (SELECT charger_id FROM sessions GROUP BY charger_id "
            "HAVING MAX(start_ts) > MIN(start_ts) "
            "AND COUNT(*) * 86400.0 / (MAX(start_ts) - MIN(start_ts)) >= ?), "
            "ordered AS MATERIALIZED (SELECT s.charger_id, s.start_ts, LAG(s.start_ts) OVER "
            "(PARTITION BY s.charger_id ORDER BY s.start_ts, s.id) AS previous "
            "FROM sessions s WHERE s.charger_id IN (SELECT charger_id FROM busy))"
        )
        return self._check(
            "o.charger_id AS charger, o.previous AS silent_from, o.start_ts AS silent_until, "
            "(o.start_ts - o.previous) / 86400.0 AS days",
            "FROM ordered o WHERE o.previous IS NOT NULL AND o.start_ts - o.previous >= ?",
            (busy_per_day, gap_s),
            with_=with_,
        )
