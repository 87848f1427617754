#!/usr/bin/env python3
"""check_metadata.py [ROOT]: META.json against the PGXN meta-spec 1.0.0's
required fields, and the release metadata of the tree at ROOT against the
extension's control file: META.json's version, debian/changelog's and
CHANGELOG.md's newest release all name its default_version, and the license
is the same everywhere. Prints TAP lines; exits 1 on any failure."""
import json
import re
import sys
from pathlib import Path

root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
checks = []


def check(description, passed, diagnostic=""):
    checks.append(bool(passed))
    print(("ok" if passed else "not ok") + f" {len(checks)} - {description}")
    if not passed and diagnostic:
        print(f"# {diagnostic}")


def read(name):
    path = root / name
    return path.read_text(encoding="utf-8") if path.is_file() else ""


control = dict(re.findall(r"^(\w+)\s*=\s*'([^']*)'", read("idempotency.control"), re.M))
default_version = control.get("default_version", "")
check("idempotency.control names a default_version X.Y", re.fullmatch(r"\d+\.\d+", default_version),
      f"default_version = {default_version!r}")
# PGXN versions are semantic versions: the control file's X.Y is X.Y.0 there.
semver = default_version + ".0"

try:
    meta = json.loads(read("META.json"))
except ValueError as error:
    meta = {}
    check("META.json is JSON", False, str(error))
else:
    check("META.json is JSON", isinstance(meta, dict))

required = ["name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"]
missing = [field for field in required if not meta.get(field)]
check("META.json has every field meta-spec 1.0.0 requires", not missing, f"missing: {missing}")
check("META.json follows meta-spec 1.0.0",
      (meta.get("meta-spec") or {}).get("version") == "1.0.0", f"meta-spec: {meta.get('meta-spec')}")
check("META.json's name is the extension's", meta.get("name") == "idempotency", meta.get("name"))
check("META.json's version is a semantic version",
      re.fullmatch(r"\d+\.\d+\.\d+", str(meta.get("version", ""))), meta.get("version"))
check(f"META.json's version is default_version {default_version} ({semver})",
      meta.get("version") == semver, f"META.json: {meta.get('version')}")
maintainer = meta.get("maintainer")
check("META.json names a maintainer",
      isinstance(maintainer, (str, list)) and all(maintainer if isinstance(maintainer, list) else [maintainer]),
      maintainer)
check("META.json's license is postgresql", meta.get("license") == "postgresql", meta.get("license"))
provided = (meta.get("provides") or {}).get("idempotency") or {}
check("META.json provides idempotency with a file and a version", provided.get("file") and provided.get("version"),
      provided)
check("the provided file exists", provided.get("file") and (root / provided["file"]).is_file(), provided.get("file"))
check("the provided version is META.json's", provided.get("version") == meta.get("version"), provided.get("version"))
postgresql = (((meta.get("prereqs") or {}).get("runtime") or {}).get("requires") or {}).get("PostgreSQL")
check("META.json requires PostgreSQL 15 or later at run time", postgresql == "15.0.0", postgresql)
check("META.json's abstract is the control file's comment", meta.get("abstract") == control.get("comment"),
      f"{meta.get('abstract')!r} vs {control.get('comment')!r}")

releases = re.findall(r"^## (\d+\.\d+) \(\d{4}-\d\d-\d\d\)$", read("CHANGELOG.md"), re.M)
check(f"CHANGELOG.md's newest release is {default_version}", releases[:1] == [default_version], releases[:1])
unreleased = re.search(r"^## Unreleased$", read("CHANGELOG.md"), re.M)
check("CHANGELOG.md's Unreleased section comes before its releases",
      unreleased and (not releases or read("CHANGELOG.md").index("## Unreleased") <
                      read("CHANGELOG.md").index(f"## {releases[0]} ")))
debian = re.match(r"idempotency \(([^)-]*)-\d+\)", read("debian/changelog"))
check(f"debian/changelog's newest version is {default_version}-N",
      debian and debian.group(1) == default_version, read("debian/changelog").split("\n")[0])

check("LICENSE is the PostgreSQL License", read("LICENSE").startswith("PostgreSQL License\n"))
check("debian/copyright declares the PostgreSQL license", re.search(r"^License: PostgreSQL$", read("debian/copyright"), re.M))
check("README.md names the license", "[PostgreSQL License](LICENSE)" in read("README.md"))

print(f"1..{len(checks)}")
sys.exit(0 if all(checks) else 1)
