"""Regenerate user-service's list of common passwords from the npm package ``@zxcvbn-ts/language-common``.

    uv run python tools/passwords/update_common_passwords.py            # the latest release (needs npm)
    uv run python tools/passwords/update_common_passwords.py --version 4.1.3
    uv run python tools/passwords/update_common_passwords.py --tarball zxcvbn-ts-language-common-4.1.3.tgz

The package's ``src/passwords.json`` is zxcvbn's ranked list of passwords seen in breaches, kept up to date by
the zxcvbn-ts project (MIT). Only entries a registration could use (at least ``--min-length`` characters,
the schema's minimum) are kept, NFKC-normalised and case-folded as the service compares them, in rank order,
gzip-compressed with a fixed timestamp so the same release always produces the same bytes. The licence is
copied beside the list and the README there records the release it came from.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import tarfile
import tempfile
import unicodedata
from pathlib import Path

PACKAGE = "@zxcvbn-ts/language-common"
ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "services/user-service/app/core/common_passwords"

README = """# Common passwords

`passwords.txt.gz`: {count} passwords that registration and password changes refuse (422), one per line,
NFKC-normalised and case-folded (the service compares the new password the same way), in the source's rank
order (most common first).

* Source: the npm package `{package}` {version} (`src/passwords.json`), the password dictionary of
  zxcvbn-ts (https://github.com/zxcvbn-ts/zxcvbn), itself ranked from public breach corpora.
* Kept: the entries of at least {min_length} characters, the shortest password an account may have.
* Licence: MIT, `LICENSE.txt` beside this file (copied from the package).
* Update: `uv run python tools/passwords/update_common_passwords.py [--version X.Y.Z]` rewrites the three
  files; commit them together.
"""


def fold(password: str) -> str:
    """The form the service checks: the same password typed on any keyboard or in any case is one entry."""
    return unicodedata.normalize("NFKC", password).casefold()


def fetch(version: str, into: Path) -> Path:
    """Download the package's tarball with npm (the registry's own client)."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm not found: install Node.js, or pass --tarball")
    spec = PACKAGE if version == "latest" else f"{PACKAGE}@{version}"
    name = subprocess.run(  # noqa: S603 - npm with a fixed package name
        [npm, "pack", spec, "--pack-destination", str(into), "--silent"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return into / name.splitlines()[-1]


def read_package(tarball: Path, into: Path) -> tuple[str, list[str], str]:
    """(version, passwords in rank order, licence text) from the package tarball."""
    with tarfile.open(tarball) as archive:
        archive.extractall(into, filter="data")
    package = into / "package"
    version = json.loads((package / "package.json").read_text())["version"]
    passwords = json.loads((package / "src/passwords.json").read_text())
    return version, passwords, (package / "LICENSE.txt").read_text()


def keep(passwords: list[str], min_length: int) -> list[str]:
    """Folded entries of at least ``min_length`` characters, first occurrence kept, rank order preserved."""
    folded = (fold(p) for p in passwords)
    return list(dict.fromkeys(p for p in folded if len(p) >= min_length and p.strip() == p and "\n" not in p))


def write(version: str, passwords: list[str], licence: str, min_length: int) -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    data = "".join(f"{p}\n" for p in passwords).encode()
    (TARGET / "passwords.txt.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    (TARGET / "LICENSE.txt").write_text(licence)
    readme = README.format(count=f"{len(passwords):,}", package=PACKAGE, version=version, min_length=min_length)
    (TARGET / "README.md").write_text(readme)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default="latest", help=f"release of {PACKAGE} to use")
    parser.add_argument("--tarball", type=Path, help="an already downloaded package tarball (no npm needed)")
    parser.add_argument("--min-length", type=int, default=8, help="shortest password accounts may have")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tarball = args.tarball or fetch(args.version, work)
        version, passwords, licence = read_package(tarball, work)
    kept = keep(passwords, args.min_length)
    write(version, kept, licence, args.min_length)
    print(f"{PACKAGE} {version}: {len(kept)} of {len(passwords)} passwords written to {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
