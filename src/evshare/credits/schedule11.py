"""The CFR annual report's per-station fields: Schedule 11, item 5 (charging-site host) or
item 6 (charging-network operator) - one row per station and compliance period.

A station missing a field the report requires stays in the export, with the field empty and
named in `missing_required`: a verifier must see what is missing, not a shorter list.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal

from evshare.credits import parameters
from evshare.credits.ledger import Ledger

COLUMNS = (
    "schedule_11_item",
    "compliance_period",
    "station_id",
    "station_name",
    "serial_number",
    "latitude",
    "longitude",
    "civic_address",
    "province",
    "province_source",
    "ci_e_gco2e_per_mj",
    "kwh_light_duty",
    "sessions",
    "missing_required",
)


def rows(ledger: Ledger) -> Iterator[dict[str, str]]:
    if ledger.program != "cfr":
        raise parameters.ParameterError("--schedule11 is the CFR annual report: use --program cfr")
    item = "5" if ledger.role == "host" else "6"
    table = parameters.cfr()
    period_ids = [p.id for p in table.periods_in_year(ledger.year)]
    for total in ledger.stations:
        st = total.station
        for period in period_ids:
            missing = []
            if not st.serial_number:
                missing.append("serial_number")
            if st.latitude is None or st.longitude is None:
                missing.append("gps")
            province = st.placement.province
            if province is None:
                missing.append("province")
            kwh = total.by_period.get(period, Decimal(0))
            yield {
                "schedule_11_item": item,
                "compliance_period": period,
                "station_id": st.id,
                "station_name": st.name,
                "serial_number": st.serial_number or "",
                "latitude": "" if st.latitude is None else f"{st.latitude:.5f}",
                "longitude": "" if st.longitude is None else f"{st.longitude:.5f}",
                "civic_address": "",  # not recorded by evshare: "where known"
                "province": province or "",
                "province_source": f"{st.placement.how}: {st.placement.note}",
                "ci_e_gco2e_per_mj": str(table.ci_e(province).value) if province else "",
                "kwh_light_duty": f"{kwh:.3f}",
                "sessions": str(total.sessions),
                "missing_required": ";".join(missing),
            }


def to_csv(ledger: Ledger) -> tuple[str, int]:
    """The CSV text, and how many rows miss a required field."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    incomplete = 0
    for row in rows(ledger):
        incomplete += bool(row["missing_required"])
        writer.writerow(row)
    return out.getvalue(), incomplete
