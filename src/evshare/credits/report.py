"""The verifier-ready report: one self-contained HTML file (inline CSS and SVG, a few lines of
inline script that only check the charts; no network, no external file).

It shows, for one program and year: the total and how it was rounded; energy by month; credits
by province and by station with the energy behind each; every station's placement (explicit,
derived from coordinates, or unassigned) and time zone; the parameters used with their sources
and statuses; and every warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape

from evshare.credits import parameters
from evshare.credits.ledger import Ledger

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1d2733}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem;
border-bottom:1px solid #d5dbe2;padding-bottom:.25rem}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #e4e8ec;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.kpis{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.kpi{border:1px solid #d5dbe2;border-radius:6px;padding:.6rem 1rem;min-width:10rem}
.kpi b{display:block;font-size:1.4rem}.neg{color:#b3261e}.warn{background:#fff6e0;
border-left:4px solid #e0a400;padding:.4rem .8rem;margin:.3rem 0}
.status-primary{color:#1b6e3a}.status-secondary{color:#8a5a00}.status-unconfirmed{color:#b3261e}
svg text{font:11px system-ui,sans-serif;fill:#1d2733}.muted{color:#5b6775}
"""

# Runs after load: every chart must have drawn bars with a real size. The result is written on
# <body> (data-charts-drawn, data-errors) for the headless-browser test to read.
_SCRIPT = """
(function(){var errors=0;window.addEventListener('error',function(){errors++;
document.body.dataset.errors=String(errors);});
window.addEventListener('load',function(){var drawn=0;
document.querySelectorAll('svg.chart').forEach(function(svg){
var bars=svg.querySelectorAll('rect.bar');var ok=bars.length>0;
bars.forEach(function(b){var r=b.getBBox();if(!(r.width>0&&r.height>0))ok=false;});
if(ok||svg.dataset.empty==='1')drawn++;});
document.body.dataset.chartsDrawn=String(drawn);document.body.dataset.errors=String(errors);});})();
"""


def _num(value: Decimal, places: int = 3) -> str:
    return f"{value:,.{places}f}"


def _bars(
    title: str, items: Sequence[tuple[str, Decimal]], unit: str, *, horizontal: bool = False
) -> str:
    """A bar chart as inline SVG; negative values drawn below (or left of) the axis in red."""
    if not items:
        return (
            f'<svg class="chart" data-empty="1" width="600" height="40" role="img" '
            f'aria-label="{escape(title)}"><text x="4" y="24">no data</text></svg>'
        )
    values = [float(v) for _, v in items]
    top = max(*values, 0.0)
    bottom = min(*values, 0.0)
    span = (top - bottom) or 1.0
    parts = []
    zero: float
    if horizontal:
        label_w, bar_w, row_h = 190, 460, 20
        height = row_h * len(items) + 20
        zero = label_w + bar_w * (-bottom / span)
        for i, (label, value) in enumerate(items):
            v = float(value)
            w = max(bar_w * abs(v) / span, 0.5)
            x = zero if v >= 0 else zero - w
            y = 10 + i * row_h
            colour = "#2f6fb0" if v >= 0 else "#b3261e"
            parts.append(
                f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{escape(label[:28])}'
                f'</text><rect class="bar" x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="14" '
                f'fill="{colour}"><title>{escape(label)}: {value} {unit}</title></rect>'
                f'<text x="{x + w + 4 if v >= 0 else x - 4:.1f}" y="{y + 13}" '
                f'text-anchor="{"start" if v >= 0 else "end"}">{value:,.0f}</text>'
            )
        parts.append(
            f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="6" y2="{height - 6}" stroke="#5b6775"/>'
        )
        width = label_w + bar_w + 90
    else:
        plot_h, slot = 220, max(min(60, 900 // len(items)), 14)
        height = plot_h + 50
        width = 60 + slot * len(items) + 20
        zero = 20 + plot_h * (top / span)
        for i, (label, value) in enumerate(items):
            v = float(value)
            h = max(plot_h * abs(v) / span, 0.5)
            x = 60 + i * slot + 2
            bar_y = zero - h if v >= 0 else zero
            colour = "#2f6fb0" if v >= 0 else "#b3261e"
            parts.append(
                f'<rect class="bar" x="{x}" y="{bar_y:.1f}" width="{slot - 4}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(label)}: {value} {unit}</title></rect>'
                f'<text x="{x + (slot - 4) / 2:.1f}" y="{plot_h + 38}" '
                f'text-anchor="middle">{escape(label if slot >= 50 else label[-2:])}</text>'
            )
        parts.append(
            f'<line x1="56" x2="{width - 10}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#5b6775"/>'
        )
        parts.append(f'<text x="4" y="16">{top:,.0f}</text>')
        parts.append(f'<text x="4" y="{zero + 4:.1f}">0</text>')
    return (
        f'<svg class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}">{"".join(parts)}</svg>'
    )


def render(ledger: Ledger, *, generated: datetime | None = None, database: str = "") -> str:
    result = ledger.result
    program = "Clean Fuel Regulations (CFR)" if ledger.program == "cfr" else "B.C. LCFS"
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    unit = "credits" if ledger.program == "cfr" else "compliance units"
    section = (
        {"host": "s. 101 charging-site host", "network": "s. 102 charging-network operator"}[
            ledger.role
        ]
        if ledger.program == "cfr"
        else "Low Carbon Fuels Act s. 13"
        if ledger.year >= 2024
        else "RLCFRR Part 3"
    )
    rounding = parameters.cfr().rounding if ledger.program == "cfr" else parameters.bc().rounding
    h: list[str] = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{escape(program)} {ledger.year} - evshare credits report</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(program)} — {ledger.year}</h1>",
        f"<p class='muted'>{escape(section)} · generated {when} by evshare"
        f"{' · ' + escape(database) if database else ''}. "
        "Stacked programs (CFR and BC) are reported separately, never summed.</p>",
        "<div class='kpis'>",
        f"<div class='kpi'>Total {unit}<b class='{'neg' if result.total < 0 else ''}'>"
        f"{result.total:,}</b><span class='muted'>exact {result.exact_total:,.5f}</span></div>",
        f"<div class='kpi'>Energy counted<b>{_num(ledger.counted_kwh)} kWh</b></div>",
        f"<div class='kpi'>Energy not counted<b>{_num(ledger.uncounted_kwh)} kWh</b></div>",
        f"<div class='kpi'>Stations<b>{len(ledger.stations)}</b></div>",
        "</div>",
        f"<p><b>Rounding.</b> {escape(rounding.source)}</p>",
    ]
    if ledger.warnings:
        h.append("<h2>Warnings</h2>")
        h += [f"<div class='warn'>{escape(w)}</div>" for w in ledger.warnings]
    h.append("<h2>Energy by month (kWh, counted stations, local time)</h2>")
    h.append(_bars("energy by month", list(ledger.by_month.items()), "kWh"))
    h.append(f"<h2>{unit.capitalize()} by province</h2>")
    h.append(
        _bars(
            "credits by province",
            [(p, c) for p, (_, c) in ledger.by_province.items()],
            unit,
            horizontal=True,
        )
    )
    h.append(
        "<table><tr><th>period</th><th>province</th><th>section</th><th class='n'>kWh</th>"
        "<th class='n'>EER</th><th class='n'>"
        f"{'CI_ref' if ledger.program == 'cfr' else 'TCI'}</th><th class='n'>CI_e</th>"
        f"<th class='n'>exact</th><th class='n'>{unit}</th></tr>"
    )
    for line in result.lines:
        neg = " class='n neg'" if line.rounded < 0 else " class='n'"
        h.append(
            f"<tr><td>{escape(line.period)}</td><td>{line.province}</td>"
            f"<td>{escape(line.section)}</td><td class='n'>{_num(line.kwh)}</td>"
            f"<td class='n'>{line.eer.value}</td><td class='n'>{line.target.value}</td>"
            f"<td class='n'>{line.ci_e.value}</td><td class='n'>{line.exact:,.5f}</td>"
            f"<td{neg}>{line.rounded:,}</td></tr>"
        )
    h.append(f"<tr><th colspan='8'>total</th><th class='n'>{result.total:,}</th></tr></table>")
    counted = [s for s in ledger.stations if s.counted and s.kwh]
    top = sorted(counted, key=lambda s: s.exact, reverse=True)[:30]
    h.append(f"<h2>{unit.capitalize()} by station (exact share, top {len(top)})</h2>")
    h.append(
        _bars(
            "credits by station",
            [(s.station.name or s.station.id, s.exact.quantize(Decimal("0.01"))) for s in top],
            unit,
            horizontal=True,
        )
    )
    h.append(
        "<h2>Stations</h2><table><tr><th>station</th><th>serial</th><th>GPS</th>"
        "<th>province</th><th>time zone</th><th class='n'>sessions</th>"
        "<th class='n'>kWh</th><th class='n'>exact share</th><th>counted</th></tr>"
    )
    for s in ledger.stations:
        st = s.station
        gps = (
            f"{st.latitude:.5f}, {st.longitude:.5f}"
            if st.latitude is not None and st.longitude is not None
            else "<span class='neg'>missing</span>"
        )
        place = st.placement
        province = f"{place.province or '—'} <span class='muted'>({place.how}: "
        province += f"{escape(place.note)})</span>"
        zone = f"{escape(st.zone.name)} <span class='muted'>({st.zone.how})</span>"
        h.append(
            f"<tr><td>{escape(st.name)}<br><span class='muted'>{escape(st.id)}</span></td>"
            f"<td>{escape(st.serial_number or '—')}</td><td>{gps}</td><td>{province}</td>"
            f"<td>{zone}</td><td class='n'>{s.sessions:,}</td><td class='n'>{_num(s.kwh)}</td>"
            f"<td class='n'>{s.exact:,.5f}</td>"
            f"<td>{'yes' if s.counted else escape('no — ' + s.reason)}</td></tr>"
        )
    h.append("</table>")
    h.append(
        "<h2>Parameters and their sources</h2><table><tr><th>parameter</th>"
        "<th class='n'>value</th><th>status</th><th>source</th></tr>"
    )
    for p in result.parameters:
        h.append(
            f"<tr><td>{escape(p.name)}</td><td class='n'>{p.value}</td>"
            f"<td class='status-{p.status}'>{p.status}</td><td>{escape(p.source)}</td></tr>"
        )
    h.append(
        "</table><p class='muted'>Status: primary = read in the regulation or an official "
        "dataset; secondary = a public transcription citing it; unconfirmed = not confirmed "
        "from public material, to be checked before filing.</p>"
    )
    h.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(h)
