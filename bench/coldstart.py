"""`make bench` (cold start part): what a fresh Lambda container costs before it answers.

    .venv/bin/python bench/coldstart.py [--runs 7] [--store dynamodb|sqlite]

Two figures, each the median of `--runs` fresh interpreters (each one a new container):

1. **Import**: `python -X importtime -c "import evshare.aws.lambda_handler"`, the module's
   cumulative import time as Python reports it. Target < 250 ms.
2. **First request**: a fresh interpreter imports the handler and answers one REST API event for
   `GET /chargers/{id}/sessions` (a month) through `handler(event, context)`; from before the
   import to the answer. Target < 500 ms. With `--store dynamodb` (the default when the DynamoDB
   store is present) the table lives in a moto server on a loopback port, reached over HTTP by
   botocore as on AWS; the second request's time is shown beside it.

Results: bench/results/coldstart-latest.md and .json (with the machine), also printed. Exits 1
when a target is missed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import orjson

import procs
import report

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
EVSHARE = str(REPO / ".venv" / "bin" / "evshare")
RESULTS = REPO / "bench" / "results"
IMPORT_TARGET_MS = 250.0
FIRST_TARGET_MS = 500.0
MODULE = "evshare.aws.lambda_handler"

_CHILD = """
import sys, time, json
started = time.perf_counter()
from evshare.aws.lambda_handler import handler
imported = time.perf_counter()
event = json.loads(sys.argv[1])
first = handler(event, None)
answered = time.perf_counter()
second = handler(event, None)
again = time.perf_counter()
print(json.dumps({"status": first["statusCode"], "second_status": second["statusCode"],
    "import_ms": (imported - started) * 1000, "first_ms": (answered - started) * 1000,
    "invoke_ms": (answered - imported) * 1000, "second_ms": (again - answered) * 1000,
    "bytes": len(first["body"])}))
"""


def _event(key: str) -> dict[str, object]:
    path = "/chargers/BENCH-0001/sessions"
    query = {"startDate": ["2026-01-01"], "endDate": ["2026-01-31"]}
    return {
        "resource": "/chargers/{chargerId}/sessions",
        "path": path,
        "httpMethod": "GET",
        "headers": {"x-api-key": key},
        "multiValueHeaders": {"x-api-key": [key]},
        "queryStringParameters": {k: v[-1] for k, v in query.items()},
        "multiValueQueryStringParameters": query,
        "pathParameters": {"chargerId": "BENCH-0001"},
        "requestContext": {"stage": "default", "path": f"/default{path}", "httpMethod": "GET"},
        "body": None,
        "isBase64Encoded": False,
    }


def _data(folder: Path) -> tuple[Path, Path]:
    chargers = folder / "chargers.ndjson"
    sessions = folder / "sessions.ndjson"
    chargers.write_text(
        "".join(
            orjson.dumps({"id": f"BENCH-{n:04d}", "name": f"Bench {n}"}).decode() + "\n"
            for n in range(1, 11)
        )
    )
    lines = []
    for day in range(1, 32):
        for hour in (8, 13, 19):
            lines.append(
                orjson.dumps(
                    {
                        "id": f"s-{day:02d}-{hour:02d}",
                        "chargerId": "BENCH-0001",
                        "startTime": f"2026-01-{day:02d}T{hour:02d}:00:00Z",
                        "endTime": f"2026-01-{day:02d}T{hour:02d}:45:00Z",
                        "energy": 12000.5,
                        "chargingDuration": 2400,
                    }
                ).decode()
            )
    sessions.write_text("\n".join(lines) + "\n")
    return chargers, sessions


@contextmanager
def _database(store: str, folder: Path) -> Iterator[dict[str, str]]:
    """Environment variables naming a loaded database (and the moto server it lives in)."""
    if store == "sqlite":
        yield {"EVSHARE_DATABASE_URL": f"sqlite:///{folder / 'cold.db'}"}
        return
    port = procs.free_port()
    argv = [str(REPO / ".venv" / "bin" / "moto_server"), "-H", procs.LOOPBACK, "-p", str(port)]
    with (folder / "moto.log").open("ab") as log:
        moto = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{procs.LOOPBACK}:{port}/moto-api/", timeout=1):
                    break
            except OSError:
                if moto.poll() is not None or time.monotonic() > deadline:
                    raise procs.CommandFailed("moto_server did not start") from None
                time.sleep(0.1)
        yield {
            "EVSHARE_DATABASE_URL": "dynamodb://evshare-bench?region=ca-central-1",
            "AWS_ENDPOINT_URL_DYNAMODB": f"http://{procs.LOOPBACK}:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "ca-central-1",
        }
    finally:
        moto.terminate()
        moto.wait(10)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def import_ms(env: dict[str, str]) -> float:
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", f"import {MODULE}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in proc.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == MODULE:
            return int(parts[1]) / 1000
    raise procs.CommandFailed(f"no import time for {MODULE}: {procs.tail(proc.stderr)}")


def main() -> int:
    has_dynamodb = importlib.util.find_spec("evshare.store.dynamodb") is not None
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--store", choices=("dynamodb", "sqlite"), default="dynamodb" if has_dynamodb else "sqlite"
    )
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EVSHARE_", "AWS_"))}
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="evshare-cold-") as tmp:
        folder = Path(tmp)
        chargers, sessions = _data(folder)
        with _database(args.store, folder) as database:
            env = base | database
            for argv in (
                [EVSHARE, "db", "upgrade"],
                [EVSHARE, "import", "chargers", str(chargers)],
                [EVSHARE, "import", "sessions", str(sessions)],
            ):
                procs.run_command(argv, env=env)
            key = procs.run_command(
                [EVSHARE, "keys", "create", "--name", "cold", "--all"], env=env
            ).stdout.strip()
            imports = [import_ms(env) for _ in range(args.runs)]
            runs = []
            for _ in range(args.runs):
                out = procs.run_command(
                    [PYTHON, "-c", _CHILD, orjson.dumps(_event(key)).decode()], env=env
                ).stdout
                runs.append(orjson.loads(out.strip().splitlines()[-1]))
    statuses = {r["status"] for r in runs} | {r["second_status"] for r in runs}
    figures = {
        "store": args.store,
        "runs": args.runs,
        "import_ms_median": round(_median(imports), 1),
        "import_ms_all": [round(x, 1) for x in imports],
        "first_request_ms_median": round(_median([r["first_ms"] for r in runs]), 1),
        "first_request_ms_all": [round(r["first_ms"], 1) for r in runs],
        "first_invoke_ms_median": round(_median([r["invoke_ms"] for r in runs]), 1),
        "second_request_ms_median": round(_median([r["second_ms"] for r in runs]), 2),
        "statuses": sorted(statuses),
        "response_bytes": runs[0]["bytes"] if runs else 0,
    }
    import_ok = figures["import_ms_median"] < IMPORT_TARGET_MS
    first_ok = figures["first_request_ms_median"] < FIRST_TARGET_MS and statuses == {200}
    store_name = "DynamoDB (moto server, loopback HTTP)" if args.store == "dynamodb" else "SQLite"
    lines = [
        f"# Lambda cold start ({started.isoformat(timespec='seconds')})",
        "",
        f"Store: {store_name}; median of {args.runs} fresh interpreters.",
        "",
        "| measure | median | all runs | target | |",
        "|---|---:|---|---:|---|",
        f"| import `{MODULE}` (-X importtime) | {figures['import_ms_median']} ms | "
        f"{figures['import_ms_all']} | < {IMPORT_TARGET_MS:.0f} ms | "
        f"{'pass' if import_ok else 'FAIL'} |",
        f"| first request (import + first invocation) | "
        f"{figures['first_request_ms_median']} ms | {figures['first_request_ms_all']} | "
        f"< {FIRST_TARGET_MS:.0f} ms | {'pass' if first_ok else 'FAIL'} |",
        f"| of which the first invocation | {figures['first_invoke_ms_median']} ms | | | |",
        f"| second request (warm) | {figures['second_request_ms_median']} ms | | | |",
        "",
        f"Machine: {report.machine(REPO)}",
        "",
    ]
    markdown = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "coldstart-latest.md").write_text(markdown)
    payload = figures | {"started": started.isoformat(), "machine": report.machine(REPO)}
    (RESULTS / "coldstart-latest.json").write_bytes(
        orjson.dumps(payload, option=orjson.OPT_INDENT_2)
    )
    print(markdown)
    return 0 if import_ok and first_ok else 1


if __name__ == "__main__":
    sys.exit(main())
