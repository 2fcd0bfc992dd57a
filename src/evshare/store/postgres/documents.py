"""The contract's JSON for a charger or a session, as a PostgreSQL expression over its columns.

A charger's is derived from the field table (model.CHARGER_FIELDS) and stored in its `doc`
column by the statement that writes the row (writes.py); a session's is rendered as it is read
(reads.py). `prefix` qualifies the columns ('' or 's.').
"""

from __future__ import annotations

from evshare.model import CHARGER_FIELDS


def charger_doc(prefix: str) -> str:
    members = ", ".join(f"'{f.contract}', {prefix}{f.column}" for f in CHARGER_FIELDS)
    # json_strip_nulls drops the keys whose value is null: optional fields are left out.
    return f"json_strip_nulls(json_build_object({members}))::text"


def _utc(column: str) -> str:
    return f"""to_char(to_timestamp({column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def session_doc(prefix: str) -> str:
    p = prefix
    # Spelled out rather than json_strip_nulls(json_build_object(...)): half the time on a busy
    # charger's year (3,190 sessions: 7.1 ms against 13.4 ms). to_json quotes the strings,
    # numbers print as JSON numbers; an unknown chargingDuration is left out (and a session in
    # progress, never served, has no endTime).
    return f"""'{{"id":' || to_json({p}id) || ',"chargerId":' || to_json({p}charger_id)
        || ',"energy":' || {p}energy_wh
        || ',"startTime":"' || {_utc(p + "start_ts")} || '"'
        || coalesce(',"endTime":"' || {_utc(p + "end_ts")} || '"', '')
        || coalesce(',"chargingDuration":' || {p}charging_duration_s, '') || '}}'"""
