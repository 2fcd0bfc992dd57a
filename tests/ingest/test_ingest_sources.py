"""Opening sources: files and stdin, gzip by magic bytes, formats by name or as asked."""

from __future__ import annotations

import gzip
import io
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evshare.errors import ImportFailed
from evshare.ingest import read_chargers, read_ocpi_locations, read_sessions
from evshare.model import Session
from tests.ingest.support import Files, split

SESSION_LINE = (
    '{"id":"s1","chargerId":"c1","energy":1500,'
    '"startTime":"2024-05-01T12:00:00Z","endTime":"2024-05-01T13:00:00Z","chargingDuration":3000}'
)
SESSION = Session(
    id="s1",
    charger_id="c1",
    start_time=datetime(2024, 5, 1, 12, tzinfo=UTC),
    end_time=datetime(2024, 5, 1, 13, tzinfo=UTC),
    energy_wh=1500.0,
    charging_duration_s=3000,
)
SESSION_CSV = (
    "id,chargerId,energy,startTime,endTime,chargingDuration\n"
    "s1,c1,1500,2024-05-01T12:00:00Z,2024-05-01T13:00:00Z,3000\n"
)
SESSION_CONTENT = {
    "csv": SESSION_CSV,
    "json": f"[{SESSION_LINE}]",
    "ndjson": SESSION_LINE + "\n",
}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("sessions.csv", "csv"),
        ("sessions.json", "json"),
        ("sessions.ndjson", "ndjson"),
        ("sessions.jsonl", "ndjson"),
        ("SESSIONS.CSV", "csv"),
        ("sessions.csv.gz", "csv"),
        ("sessions.json.gz", "json"),
        ("sessions.ndjson.gz", "ndjson"),
        ("sessions.jsonl.gz", "ndjson"),
    ],
)
def test_format_comes_from_the_name_and_gzip_is_read_transparently(
    files: Files, name: str, kind: str
) -> None:
    path = files.write(name, SESSION_CONTENT[kind], gz=name.endswith(".gz"))
    assert list(read_sessions(path)) == [SESSION]


@pytest.mark.parametrize("kind", ["csv", "json", "ndjson"])
def test_gzip_is_recognised_by_its_magic_bytes_not_its_name(files: Files, kind: str) -> None:
    path = files.write(f"sessions.{kind}", SESSION_CONTENT[kind], gz=True)
    assert list(read_sessions(path)) == [SESSION]


def test_a_gz_name_on_plain_content_is_read_as_plain(files: Files) -> None:
    path = files.write("sessions.ndjson.gz", SESSION_CONTENT["ndjson"])
    assert list(read_sessions(path)) == [SESSION]


@pytest.mark.parametrize("kind", ["csv", "json", "ndjson"])
def test_an_explicit_format_overrides_the_name(files: Files, kind: str) -> None:
    path = files.write("export.txt", SESSION_CONTENT[kind])
    assert list(read_sessions(path, format=kind)) == [SESSION]


@pytest.mark.parametrize("kind", ["csv", "json", "ndjson"])
def test_a_name_without_a_known_extension_is_read_as_its_content_shows(
    files: Files, kind: str
) -> None:
    path = files.write("export.txt", SESSION_CONTENT[kind])
    assert list(read_sessions(path)) == [SESSION]


def test_an_unknown_format_is_refused(files: Files) -> None:
    path = files.write("sessions.csv", SESSION_CSV)
    with pytest.raises(ImportFailed, match=r"unknown format 'xml'"):
        list(read_sessions(path, format="xml"))


@pytest.mark.parametrize(("kind", "compress"), [("ndjson", False), ("csv", True)])
def test_dash_reads_stdin_as_bytes(
    monkeypatch: pytest.MonkeyPatch, kind: str, compress: bool
) -> None:
    data = SESSION_CONTENT[kind].encode()
    stdin = io.TextIOWrapper(io.BytesIO(gzip.compress(data) if compress else data))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert list(read_sessions("-", format=kind)) == [SESSION]
    assert not stdin.closed


@pytest.mark.parametrize(("kind", "compress"), [("ndjson", False), ("csv", True), ("json", False)])
def test_stdin_is_read_as_its_content_shows(
    monkeypatch: pytest.MonkeyPatch, kind: str, compress: bool
) -> None:
    data = SESSION_CONTENT[kind].encode()
    stdin = io.TextIOWrapper(io.BytesIO(gzip.compress(data) if compress else data))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert list(read_sessions("-")) == [SESSION]


def test_empty_stdin_is_no_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert list(read_sessions("-")) == []


def test_records_of_another_kind_are_the_wrong_file(files: Files) -> None:
    path = files.write("chargers.json", '[{"id": "CH-1", "name": "one"}]')
    with pytest.raises(ImportFailed, match=r"chargers\.json: no record has a field of OCPI"):
        list(read_ocpi_locations(path))


def test_a_missing_file_is_the_os_error_naming_it(tmp_path: Path) -> None:
    # The CLI turns it into one line naming the argument (tests/cli/test_user_errors.py).
    path = str(tmp_path / "absent.csv")
    with pytest.raises(FileNotFoundError) as raised:
        list(read_sessions(path))
    assert raised.value.filename == path


def test_a_directory_is_the_os_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as raised:
        list(read_chargers(str(tmp_path), format="csv"))
    assert raised.value.filename == str(tmp_path)


def test_a_path_object_is_accepted(files: Files) -> None:
    path = Path(files.write("sessions.ndjson", SESSION_CONTENT["ndjson"]))
    assert list(read_sessions(path)) == [SESSION]


def test_a_truncated_gzip_file_is_import_failed(files: Files) -> None:
    whole = gzip.compress((SESSION_LINE + "\n").encode() * 2000)
    path = files.write("sessions.ndjson.gz", whole[: len(whole) // 2])
    with pytest.raises(ImportFailed, match=r"sessions\.ndjson\.gz: cannot read: .*end-of-stream"):
        list(read_sessions(path))


def test_corrupt_gzip_data_is_import_failed(files: Files) -> None:
    whole = bytearray(gzip.compress((SESSION_LINE + "\n").encode() * 50))
    whole[20:40] = b"\x00" * 20
    path = files.write("sessions.ndjson.gz", bytes(whole))
    with pytest.raises(ImportFailed, match=r"sessions\.ndjson\.gz: cannot read"):
        list(read_sessions(path))


@pytest.mark.parametrize("name", ["empty.csv", "empty.json", "empty.ndjson", "empty.csv.gz"])
def test_an_empty_file_yields_nothing(files: Files, name: str) -> None:
    path = files.write(name, "", gz=name.endswith(".gz"))
    assert list(read_sessions(path)) == []


@pytest.mark.parametrize("content", ["   \n\n", "\n"])
def test_a_blank_file_yields_nothing(files: Files, content: str) -> None:
    for name in ("blank.csv", "blank.json", "blank.ndjson"):
        assert list(read_sessions(files.write(name, content))) == []


def test_a_byte_order_mark_is_skipped(files: Files) -> None:
    for kind, content in SESSION_CONTENT.items():
        path = files.write(f"bom.{kind}", b"\xef\xbb\xbf" + content.encode())
        assert list(read_sessions(path)) == [SESSION], kind


def test_progress_reports_bytes_read_from_the_file_as_stored(files: Files) -> None:
    content = (SESSION_LINE + "\n") * 20_000
    path = files.write("sessions.ndjson.gz", content, gz=True)
    size = Path(path).stat().st_size
    seen: list[int] = []
    good, bad = split(read_sessions(path, progress=seen.append))
    assert (len(good), bad) == (20_000, [])
    assert seen == sorted(seen)
    assert seen[-1] == size


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open descriptors in /proc")
def test_the_file_is_closed_when_the_reader_is(files: Files) -> None:
    path = files.write("sessions.ndjson", (SESSION_LINE + "\n") * 3)
    before = len(list(Path("/proc/self/fd").iterdir()))
    reader = read_sessions(path)
    next(reader)
    assert len(list(Path("/proc/self/fd").iterdir())) == before + 1
    reader.close()
    assert len(list(Path("/proc/self/fd").iterdir())) == before
