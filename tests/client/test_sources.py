"""The sources file of evshare collect: checked field by field, extensible by later features."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from evshare.cli.common import parse_duration
from evshare.client.collect import Source, load_sources
from evshare.errors import ConfigError


def load(tmp_path: Path, text: str) -> list[Source]:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    return list(load_sources(path, parse_duration))


def test_every_field_and_unknown_ones_kept(tmp_path: Path) -> None:
    [acme, flo] = load(
        tmp_path,
        '[[source]]\nname = "acme"\nurl = "https://a.example/default/"\nkey_env = "A"\n'
        'profile = "1.0.7"\nconcurrency = 2\nsince = 2024-01-01\noverlap = "3d"\n'
        'province = "AB"\n\n[[source]]\nname = "flo"\nurl = "http://f"\n',
    )
    assert acme.url == "https://a.example/default"
    assert acme.profile == "1.0.7"
    assert acme.since == date(2024, 1, 1)
    assert acme.overlap == timedelta(days=3)
    assert acme.extra == {"province": "AB"}
    assert flo.concurrency == 4
    assert flo.key_env is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no [[source]] table"),
        ("[[source]]\nurl = 'http://x'\n", "name is required"),
        ("[[source]]\nname = 'a'\n", "url is required"),
        ("[[source]]\nname = 'a b'\nurl = 'http://x'\n", "source name 'a b'"),
        ("[[source]]\nname = 'a'\nurl = 'ftp://x'\n", "must start with http"),
        ("[[source]]\nname = 'a'\nurl = 'http://x'\nprofile = '2'\n", "profile '2'"),
        ("[[source]]\nname = 'a'\nurl = 'http://x'\nconcurrency = 0\n", "concurrency 0"),
        ("[[source]]\nname = 'a'\nurl = 'http://x'\nsince = 'May'\n", "since 'May'"),
        ("[[source]]\nname = 'a'\nurl = 'http://x'\nkey = 's3cret'\n", "key_env"),
        (
            "[[source]]\nname = 'a'\nurl = 'http://x'\n[[source]]\nname = 'a'\nurl = 'http://y'\n",
            "repeated: ['a']",
        ),
        ("[[source]\n", "not valid TOML"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load(tmp_path, text)
