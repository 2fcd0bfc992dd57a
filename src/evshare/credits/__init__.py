"""Credits from charging energy: Canada's Clean Fuel Regulations (ss. 101-102) and British
Columbia's low carbon fuel credits, computed in Decimal from parameters kept as data files
(data/*.toml, each value with its source beside it).

A pure library: it reads nothing but its own bundled data, and knows nothing of the store, the
web or the CLI. `calc` holds the formulas and rounding, `parameters` the tables, `periods` the
compliance periods in a charger's local time, `places` the province and time zone of a charger.
"""

from evshare.credits.calc import Line, Result, bc_line, cfr_line, estimate, total
from evshare.credits.parameters import PROGRAMS, PROVINCES, ParameterError, Sourced

__all__ = [
    "PROGRAMS",
    "PROVINCES",
    "Line",
    "ParameterError",
    "Result",
    "Sourced",
    "bc_line",
    "cfr_line",
    "estimate",
    "total",
]
