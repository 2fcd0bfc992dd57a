"""Claims to grants: the mapping rules, as pure logic."""

from __future__ import annotations

from typing import Any

import pytest

from evshare.errors import Unauthorized
from evshare.identity.claims import Grant, check_audience, grant, safe_subject
from evshare.identity.config import IssuerConfig, parse_identity_config

FILE = """
[issuers.p]
url = "https://issuer.example"
audiences = ["api"]
chargers_claim = "chargers"
groups_claim = "groups"
key_claim = "key"
plan = "issuer-plan"
LIMIT
[issuers.p.groups.ops]
chargers = "all"
[issuers.p.groups.a]
chargers = ["A1", "A2"]
[issuers.p.groups.b]
chargers = ["B1"]
plan = "b-plan"
[issuers.p.groups.c]
chargers = ["C1"]
plan = "c-plan"
"""


def issuer(limit_by: str = "subject") -> IssuerConfig:
    text = FILE.replace("LIMIT", f'limit_by = "{limit_by}"')
    return parse_identity_config(text, "f.toml").issuers["p"]


def mapped(claims: dict[str, Any], limit_by: str = "subject") -> Grant:
    return grant(issuer(limit_by), {"sub": "u-1", **claims}, 2e9)


def test_ids_and_groups_add_up() -> None:
    g = mapped({"chargers": ["X"], "groups": ["a", "b", "nope"]})
    assert (g.all_chargers, g.charger_ids) == (False, frozenset({"X", "A1", "A2", "B1"}))


def test_an_all_group_sees_everything_and_needs_no_key() -> None:
    g = mapped({"chargers": ["X"], "groups": ["ops"], "key": "k"})
    assert (g.all_chargers, g.charger_ids, g.borrowed_key) == (True, frozenset(), None)


def test_nothing_mapped_sees_nothing() -> None:
    g = mapped({})
    assert (g.all_chargers, g.charger_ids, g.borrowed_key) == (False, frozenset(), None)
    assert g.plan == "issuer-plan"


def test_the_first_group_in_the_file_with_a_plan_sets_it() -> None:
    assert mapped({"groups": ["c", "b"]}).plan == "b-plan"
    assert mapped({"groups": ["a"]}).plan == "issuer-plan"


def test_limits_count_per_subject_or_per_first_group() -> None:
    g = mapped({"groups": ["b", "a"]})
    assert (g.name, g.account) == ("p:u-1", "p:u-1")
    g = mapped({"groups": ["b", "a"]}, limit_by="group")
    assert (g.name, g.account) == ("p:u-1", "p#a")  # the file's order: a before b
    assert mapped({}, limit_by="group").account == "p:u-1"  # no group: per subject


def test_a_borrowed_key_is_named() -> None:
    assert mapped({"key": " rewatt "}).borrowed_key == "rewatt"
    assert mapped({"key": ["rewatt"]}).borrowed_key is None


def test_a_token_without_subject_is_refused() -> None:
    with pytest.raises(Unauthorized):
        grant(issuer(), {"sub": ""}, 2e9)
    with pytest.raises(Unauthorized):
        grant(issuer(), {"sub": 7}, 2e9)


def test_subjects_cannot_break_a_log_line_or_collide_with_a_key() -> None:
    assert safe_subject("auth0|abc") == "auth0|abc"
    assert safe_subject("a b\nkey=admin") == "a%20b%0Akey=admin"
    assert safe_subject("é") == "%C3%A9"
    assert len(safe_subject("x" * 1000)) == 128
    assert ":" not in safe_subject("a:b")[1:]


def test_cognito_audience_rules() -> None:
    text = '[issuers.c]\nurl = "https://c"\naudiences = ["app"]\nkind = "cognito"\n'
    text += 'token_use = ["access"]\n'
    cognito = parse_identity_config(text, "f.toml").issuers["c"]
    assert "client_id" in check_audience(cognito, {"token_use": "access", "client_id": "app"})
    with pytest.raises(Unauthorized, match="token_use 'id'"):
        check_audience(cognito, {"token_use": "id", "aud": "app"})
    with pytest.raises(Unauthorized, match="token_use None"):
        check_audience(cognito, {"client_id": "app"})
    with pytest.raises(Unauthorized, match="client_id"):
        check_audience(cognito, {"token_use": "access", "client_id": "other", "aud": "app"})
    assert cognito.groups_claim_name == "cognito:groups"
