"""`evshare identity check` and the identity file's start-up checks, as a user meets them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from evshare.errors import ConfigError
from evshare.identity.config import load_identity_config, parse_identity_config
from evshare.store import schema
from tests.api.conftest import seed
from tests.cli.conftest import Cli
from tests.identity.issuer import LocalIssuer, identity_toml

GROUPS = """
groups_claim = "groups"
key_claim = "evshare_key"
[issuers.local.groups.site-a]
chargers = ["CH-003", "CH-404"]
"""


@pytest.fixture
def setup(cli: Cli, issuer: LocalIssuer) -> tuple[Cli, dict[str, str]]:
    url = cli.database_url
    schema.upgrade(url)
    asyncio.run(seed(url))
    path = cli.cwd / "identity.toml"
    path.write_text(identity_toml({"local": issuer}) + GROUPS)
    return cli, {"EVSHARE_IDENTITY_CONFIG": str(path)}


def test_check_explains_what_a_token_sees(
    setup: tuple[Cli, dict[str, str]], issuer: LocalIssuer
) -> None:
    cli, env = setup
    token = issuer.token(sub="partner-7", groups=["site-a", "other"], chargers=["CH-001"])
    result = cli("identity", "check", token, env=env)
    assert result.code == 0, result.err
    assert "issuer: 'local'" in result.out
    assert "group 'site-a' adds 2 charger id(s)" in result.out
    assert "sees: 2 charger(s): CH-001, CH-003" in result.out
    assert "granted but not in the store (yet): CH-404" in result.out
    assert "local:partner-7" in result.out
    as_json = cli("identity", "check", "--json", token, env=env)
    report = orjson.loads(as_json.out)
    assert (report["accepted"], report["chargers"]) == (True, ["CH-001", "CH-003"])


def test_check_borrowing_a_key(setup: tuple[Cli, dict[str, str]], issuer: LocalIssuer) -> None:
    cli, env = setup
    result = cli("identity", "check", issuer.token(evshare_key="all"), env=env)
    assert "borrows the scope of key 'all'" in result.out
    assert "sees: every charger (16 now)" in result.out


def test_check_says_why_a_token_is_refused(
    setup: tuple[Cli, dict[str, str]], issuer: LocalIssuer
) -> None:
    cli, env = setup
    result = cli("identity", "check", issuer.token(aud="someone-else"), env=env)
    assert result.code == 1
    assert "refused (Unauthorized): aud 'someone-else' names none of the audiences" in result.out
    result = cli("identity", "check", "nonsense", env=env)
    assert (result.code, "not a readable JWT" in result.out) == (1, True)
    result = cli("identity", "check", issuer.token(iss="https://other.example"), env=env)
    assert "issuer: none has iss 'https://other.example'" in result.out


def test_check_without_an_identity_file_says_how_to_give_one(cli: Cli) -> None:
    result = cli("identity", "check", "x.y.z")
    assert result.code == 1
    assert "EVSHARE_IDENTITY_CONFIG" in result.err


def test_serve_refuses_a_bad_identity_file_naming_it(cli: Cli) -> None:
    path = cli.cwd / "bad.toml"
    path.write_text('[issuers.p]\nurl = "http://insecure.example"\naudiences = []\n')
    result = cli("serve", "--port", "0", env={"EVSHARE_IDENTITY_CONFIG": str(path)})
    assert result.code == 1
    assert "bad.toml" in result.err
    assert "issuer 'p'" in result.err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("issuers = 3", "field 'issuers'"),
        ("[issuers]", "field 'issuers': Dictionary should have at least 1 item"),
        ('[issuers."bad alias"]\nurl="https://x"', "issuer 'bad alias': the alias"),
        ('[issuers.a]\nurl = "http://x"\naudiences=["a"]', "issuer 'a', field 'url'"),
        ('[issuers.a]\nurl = "https://x"', "issuer 'a', field 'audiences': Field required"),
        (
            '[issuers.a]\nurl = "https://x"\naudiences=["a"]',
            "issuer 'a': no claim maps to chargers",
        ),
        (
            '[issuers.a]\nurl = "https://x"\naudiences=["a"]\nchargers_claim="c"\nalg="HS256"',
            "issuer 'a', field 'alg': Extra inputs are not permitted",
        ),
        (
            '[issuers.a]\nurl = "https://x"\naudiences=["a"]\nchargers_claim="c"\n'
            "token_use=['id']",
            "issuer 'a', field 'token_use': only Cognito tokens",
        ),
        (
            '[issuers.a]\nurl = "https://x"\naudiences=["a"]\nchargers_claim="c"\n'
            '[issuers.a.groups.g]\nchargers="all"',
            "issuer 'a', field 'groups': groups are mapped but no groups_claim",
        ),
        (
            '[issuers.a]\nurl = "https://x"\naudiences=["a"]\nkind="cognito"\n'
            '[issuers.a.groups.g]\nchargers="some"',
            "issuer 'a', field 'groups.g.chargers'",
        ),
        (
            '[issuers.a]\nurl = "https://x"\naudiences=["a"]\nchargers_claim="c"\n'
            '[issuers.b]\nurl = "https://x"\naudiences=["a"]\nchargers_claim="c"',
            "issuer 'b', field 'url': the same URL as issuer 'a'",
        ),
        ("leeway = -1\n[issuers.a]", "field 'leeway'"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_identity_file_faults_name_the_file_issuer_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_identity_config(text, "/etc/evshare/identity.toml")
    assert str(caught.value).startswith("/etc/evshare/identity.toml: ")
    assert message in str(caught.value)


def test_a_missing_identity_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"EVSHARE_IDENTITY_CONFIG: cannot read .*nope\.toml"):
        load_identity_config(tmp_path / "nope.toml")


def test_a_relative_ca_file_is_found_beside_the_identity_file(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-")
    path = tmp_path / "identity.toml"
    path.write_text(
        '[issuers.a]\nurl = "https://x"\naudiences = ["a"]\nchargers_claim = "c"\n'
        'ca_file = "ca.pem"\n'
    )
    assert load_identity_config(path).issuers["a"].ca_file == tmp_path / "ca.pem"
    path.write_text(path.read_text().replace("ca.pem", "absent.pem"))
    with pytest.raises(ConfigError, match=r"issuer 'a', field 'ca_file'.*absent\.pem"):
        load_identity_config(path)
