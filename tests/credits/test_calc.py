"""The formulas against values worked out by hand from the regulations' formulas and the
bundled parameters (each case shows its arithmetic)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from evshare.credits import ParameterError, calc, parameters


@pytest.mark.parametrize(
    ("province", "year", "kwh", "exact", "credits"),
    [
        # (2.5 x 87.9 - 14) x 100 000 x 3.6e-6 = 205.75 x 0.36
        ("ON", 2024, "100000", "74.07", "74"),
        # (2.5 x 86.6 - 5) x 50 000 x 3.6e-6 = 211.5 x 0.18
        ("QC", 2025, "50000", "38.07", "38"),
        # (2.5 x 87.9 - 11) x 1 000 000 x 3.6e-6 = 208.75 x 3.6
        ("BC", 2024, "1000000", "751.5", "752"),
        # (2.5 x 86.6 - 218) x 100 000 x 3.6e-6 = -1.5 x 0.36: a debit, not zero
        ("AB", 2025, "100000", "-0.54", "-1"),
        # (2.5 x 87.9 - 313) x 10 000 x 3.6e-6 = -93.25 x 0.036
        ("NU", 2024, "10000", "-3.357", "-3"),
        # (2.5 x 80.1 - 237) x 1 000 x 3.6e-6 = -36.75 x 0.0036
        ("SK", 2030, "1000", "-0.1323", "0"),
    ],
)
def test_cfr_line(province: str, year: int, kwh: str, exact: str, credits: str) -> None:
    (period,) = parameters.cfr().periods_in_year(year)
    line = calc.cfr_line(period, province, D(kwh))
    assert line.exact == D(exact)
    assert line.rounded == D(credits)
    assert bool(line.warnings) == (line.exact < 0)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [("2.5", "3"), ("-2.5", "-3"), ("0.49999", "0"), ("-0.5", "-1"), ("7", "7")],
)
def test_cfr_rounds_half_up_to_whole_credits(value: str, rounded: str) -> None:
    assert calc.whole(D(value)) == D(rounded)


def test_cfr_rounds_once_per_aggregate_never_per_session() -> None:
    (period,) = parameters.cfr().periods_in_year(2024)
    # 0.4 credit per session rounds to 0 each time, but ten sessions make 4 credits.
    kwh = D("0.4") / ((D("2.5") * D("87.9") - 14) * D("3.6") / D(1_000_000))
    one = calc.cfr_line(period, "ON", kwh)
    ten = calc.cfr_line(period, "ON", kwh * 10)
    assert one.rounded == 0
    assert ten.rounded == 4


@pytest.mark.parametrize(
    ("year", "category", "end_use", "eer", "kwh", "line", "total"),
    [
        # (78.68 x 3.5 - 12.14) x 100 000 x 3.6 / 1e6 = 263.24 x 0.36
        (2024, None, None, None, "100000", "94.76640", "95"),
        # (74.94 x 3.8 - 12.14) x 10 000 x 3.6 / 1e6 = 272.632 x 0.036 = 9.814752
        (2026, "diesel", "Battery bus", None, "10000", "9.81475", "10"),
        # (65.57 x 1.0 - 12.14) x 1 000 x 3.6 / 1e6 = 53.43 x 0.0036 = 0.192348
        (2030, "gasoline", "Other or unknown", None, "1000", "0.19235", "0"),
        # before 2024: (76.14 x 3.4 - 19.73) x 100 000 x 3.6 / 1e6 = 239.146 x 0.36
        (2023, "gasoline", None, "3.4", "100000", "86.09256", "86"),
    ],
)
def test_bc_line(
    year: int,
    category: str | None,
    end_use: str | None,
    eer: str | None,
    kwh: str,
    line: str,
    total: str,
) -> None:
    elected = None if eer is None else parameters.Sourced("EER", D(eer), "unconfirmed", "test")
    result = calc.total(
        "bc-lcfs",
        [calc.bc_line(year, D(kwh), category=category, end_use=end_use, eer=elected)],
    )
    assert result.lines[0].rounded == D(line)
    assert result.total == D(total)


def test_bc_pre_2024_needs_an_elected_eer() -> None:
    with pytest.raises(ParameterError, match="--eer"):
        calc.bc_line(2023, D(1000))


def test_bc_lines_round_to_five_places_then_the_total_to_whole_units() -> None:
    lines = [calc.bc_line(2024, D("1.7")) for _ in range(3)]
    result = calc.total("bc-lcfs", lines)
    # each (263.24 x 1.7 x 3.6 / 1e6 = 0.001611...) -> 0.00161; three make 0.00483 -> 0
    assert [line.rounded for line in result.lines] == [D("0.00161")] * 3
    assert result.total == 0


def test_estimate_splits_2023_into_its_two_halves_by_days() -> None:
    result = calc.estimate("cfr", "ON", D(100000), [2023])
    assert [(line.period, line.kwh) for line in result.lines] == [
        ("2023-H1", D("49589.041")),  # 181 of 365 days
        ("2023-H2", D("50410.959")),  # 184 of 365 days
    ]
    assert result.kwh == D(100000)


def test_estimate_2022_counts_only_from_june_21() -> None:
    result = calc.estimate("cfr", "QC", D(365000), [2022])
    (line,) = result.lines
    assert line.period == "2022"
    assert line.kwh == D(194000)  # 21 June to 31 December: 194 days


def test_estimate_one_period() -> None:
    result = calc.estimate("cfr", "ON", D(1000), [], period="2023-H2")
    assert result.lines[0].kwh == D(1000)
    assert result.lines[0].target.value == parameters.cfr().period("2023-H2").ci_ref.value


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"program": "cfr", "province": "XX"}, "--province"),
        ({"program": "cfr", "province": "ON", "years": [2019]}, "no bundled compliance period"),
        ({"program": "cfr", "province": "ON", "role": "network", "eer": D(4)}, "light-duty"),
        ({"program": "bc-lcfs", "province": "ON"}, "--province BC"),
        ({"program": "bc-lcfs", "province": "BC", "category": "kerosene"}, "kerosene"),
        ({"program": "bc-lcfs", "province": "BC", "end_use": "Rocket"}, "Rocket"),
        ({"program": "cfr", "province": "ON", "kwh": D(-1)}, "negative"),
    ],
)
def test_estimate_refuses_with_a_message_naming_the_input(
    kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"kwh": D(1000), "years": [2024], **kwargs}
    program = args.pop("program")
    province = args.pop("province")
    kwh = args.pop("kwh")
    years = args.pop("years")
    with pytest.raises(ParameterError, match=message):
        calc.estimate(program, province, kwh, years, **args)  # type: ignore[arg-type]


def test_network_operator_uses_the_light_duty_eer() -> None:
    with pytest.raises(ParameterError, match=r"s\. 102"):
        calc.cfr_eer("network", {"heavy-duty": parameters.cfr().eers["light-duty"]})
    assert calc.cfr_eer("network", {}).value == D("2.5")


def test_every_parameter_has_a_source_and_a_status() -> None:
    cfr = parameters.cfr()
    values = [p.ci_ref for p in cfr.periods] + list(cfr.ci_electricity.values())
    bc = parameters.bc()
    values += list(bc.tci.values()) + list(bc.grid_ci.values()) + list(bc.eers.values())
    for value in values:
        assert value.status in ("primary", "secondary", "unconfirmed"), value
        assert len(value.source) > 20, value
    assert set(cfr.ci_electricity) == set(parameters.PROVINCES)
    assert [p.id for p in cfr.periods][:3] == ["2022", "2023-H1", "2023-H2"]
