"""`evshare aws package`: the Lambda deployment zip.

The zip holds evshare's own package (copied from this installation, without the CLI, caches or
type stubs) and the few libraries the handler imports, installed from the package registry as
binary wheels for the *function's* platform (`pip install --platform manylinux2014_aarch64
--only-binary=:all: --python-version 3.12 --implementation cp`): never the build machine's
own compiled files. Versions are pinned to the ones installed here, so the function runs what
was tested. boto3 is left out unless asked for: the Lambda Python runtime has it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

from evshare.errors import ConfigError

Architecture = Literal["arm64", "x86_64"]
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
# What the handler imports on each store; psycopg only for PostgreSQL.
RUNTIME_PACKAGES = ["orjson", "pyyaml", "markdown-it-py", "mdurl"]  # the last two: /docs
POSTGRES_PACKAGES = ["psycopg", "psycopg-binary", "psycopg-pool", "typing-extensions"]
AWS_PACKAGES = ["boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"]
LAMBDA_ZIP_LIMIT = 50 * 2**20  # direct upload
LAMBDA_UNZIPPED_LIMIT = 250 * 2**20
# Never in the zip: tests, caches, compiled files of this machine, stubs (nor evshare's CLI).
_SKIPPED_DIRS = {"__pycache__", "tests", "test", "bin"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo", ".pyi"}


@dataclass(frozen=True, slots=True)
class PackageReport:
    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    requirements: list[str]

    def summary(self) -> str:
        return (
            f"{self.path}: {self.zipped_bytes / 2**20:.1f} MiB zipped, "
            f"{self.unzipped_bytes / 2**20:.1f} MiB unzipped, {self.files} files "
            f"(Lambda allows {LAMBDA_ZIP_LIMIT // 2**20} MiB zipped for a direct upload, "
            f"{LAMBDA_UNZIPPED_LIMIT // 2**20} MiB unzipped)"
        )


def _pinned(names: list[str]) -> list[str]:
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def requirements(*, store: str, with_boto3: bool) -> list[str]:
    names = list(RUNTIME_PACKAGES)
    if store == "postgres":
        names += POSTGRES_PACKAGES
    if with_boto3:
        names += AWS_PACKAGES
    return _pinned(names)


def _copy_evshare(target: Path) -> None:
    source = Path(__file__).resolve().parent.parent  # the installed evshare package
    destination = target / "evshare"
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir() or _skipped(relative) or relative.parts[0] == "cli":
            continue
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination / relative)


def _skipped(relative: Path) -> bool:
    return bool(_SKIPPED_DIRS & set(relative.parts[:-1])) or relative.suffix in _SKIPPED_SUFFIXES


def _install(target: Path, pins: list[str], architecture: Architecture, python: str) -> None:
    argv = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        PLATFORMS[architecture],
        "--implementation",
        "cp",
        "--python-version",
        python,
        "--only-binary=:all:",
        "--no-deps",
        *pins,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        problem = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ConfigError(
            f"pip could not fetch wheels for {architecture} / Python {python}: "
            + " | ".join(problem)
        )


def build(
    output: Path,
    *,
    architecture: Architecture = "arm64",
    python: str = "3.12",
    store: str = "dynamodb",
    with_boto3: bool = False,
) -> PackageReport:
    """Write the deployment zip to `output` and say what is in it."""
    if not output.parent.exists():
        raise ConfigError(f"--output: the folder {output.parent} does not exist")
    pins = requirements(store=store, with_boto3=with_boto3)
    with tempfile.TemporaryDirectory(prefix="evshare-package-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        _install(root, pins, architecture, python)
        _copy_evshare(root)
        files = sorted(
            p for p in root.rglob("*") if p.is_file() and not _skipped(p.relative_to(root))
        )
        unzipped = 0
        partial = output.with_name(output.name + ".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in files:
                info = zipfile.ZipInfo(str(path.relative_to(root)), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                data = path.read_bytes()
                unzipped += len(data)
                archive.writestr(info, data)
        partial.replace(output)
    return PackageReport(output, output.stat().st_size, unzipped, len(files), pins)
