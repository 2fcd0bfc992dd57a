"""The contract's JSON for a charger or a session, stored in the row's `doc` column.

A charger's is a SQLite expression derived from the field table (model.SERVED_CHARGER_FIELDS),
rendered by the statement that writes the row (writes.py). A session's is rendered here, in
Python, as the row is written (`session_document`): SQLite's own rendering (json_object and two
strftime, kept below as `session_doc` for reference and tests) cost several times more per row,
which a bulk import of a million sessions cannot afford; reading stored documents made a
one-month read three times faster (migration 0006). `prefix` qualifies the columns ('' or 's.').
"""

from __future__ import annotations

from datetime import date, timedelta

import orjson

from evshare.model import SERVED_CHARGER_FIELDS
from evshare.store.rows import SESSION_COLUMNS, Row

if SESSION_COLUMNS != (
    "id",
    "charger_id",
    "start_ts",
    "end_ts",
    "energy_wh",
    "charging_duration_s",
):
    raise ImportError("session_document reads the session columns in another order: update it")


def charger_doc(prefix: str) -> str:
    members = ", ".join(f"'{f.contract}', {prefix}{f.column}" for f in SERVED_CHARGER_FIELDS)
    # json_patch('{}', ...) drops the keys whose value is null: optional fields are left out.
    return f"json_patch('{{}}', json_object({members}))"


def _utc(column: str) -> str:
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {column}, 'unixepoch')"


def session_doc(prefix: str) -> str:
    p = prefix
    common = f"""'id', {p}id, 'chargerId', {p}charger_id, 'energy', {p}energy_wh,
        'startTime', {_utc(p + "start_ts")}"""
    # Sessions in progress have no endTime (and are never served); an unknown
    # chargingDuration is left out. Spelled out rather than json_patch: the read path's cost.
    return f"""CASE
        WHEN {p}end_ts IS NULL THEN json_object({common})
        WHEN {p}charging_duration_s IS NULL
            THEN json_object({common}, 'endTime', {_utc(p + "end_ts")})
        ELSE json_object({common}, 'endTime', {_utc(p + "end_ts")},
            'chargingDuration', {p}charging_duration_s) END"""


_EPOCH = date(1970, 1, 1)
_DAY_S = 86_400
_MAX_DAYS = 100_000
_days: dict[int, str] = {}
_MINUTES = [f"T{hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60)]
_SECONDS = [f"{second:02d}Z" for second in range(60)]


def _rfc3339(seconds: int) -> str:
    """Epoch seconds as RFC 3339 UTC with a Z, as strftime('%Y-%m-%dT%H:%M:%SZ') prints them."""
    day, second = divmod(seconds, _DAY_S)
    text = _days.get(day)
    if text is None:
        if len(_days) >= _MAX_DAYS:
            _days.clear()
        text = _days[day] = (_EPOCH + timedelta(days=day)).isoformat()
    minute, second = divmod(second, 60)
    return text + _MINUTES[minute] + _SECONDS[second]


def _string(text: str) -> str:
    """A JSON string; most ids need no escaping, which is checked faster than done."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    return orjson.dumps(text).decode()


def session_document(row: Row) -> str | None:
    """The contract's JSON of a session from its row (rows.session_row's columns: id,
    charger_id, start_ts, end_ts, energy_wh, charging_duration_s), in the contract's member
    order; None for a session in progress (never served). `energy` prints as a float, as from
    the REAL column; a missing chargingDuration is left out. About 1 us a row."""
    sid, charger, start, end, energy, duration = row
    if end is None:
        return None
    head = (
        f'{{"id":{_string(sid)},"chargerId":{_string(charger)},"energy":{float(energy)!r},'
        f'"startTime":"{_rfc3339(start)}","endTime":"{_rfc3339(end)}"'
    )
    return head + "}" if duration is None else f'{head},"chargingDuration":{int(duration)}}}'
