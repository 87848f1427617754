#!/usr/bin/env python3
"""Compares the native and the portable edition's API as the catalogs list it.

Usage: compare_contract.py NATIVE PORTABLE, each a file of lines
"function name(arguments) result" and "<relkind> relation.column type ...".
Every native function but the internal ones below must be in the portable
edition with the same arguments, defaults and result; every column of every
table, type, view and index must be the same. The portable edition's own
helpers (and schedule_purge, unschedule_purge) are not compared. Prints the
differences; exits 1 if there are any.
"""
import re
import sys

NATIVE_INTERNAL = {"config_changed", "redate_shards"}  # a trigger function; Citus re-dating
FUNCTION = re.compile(r"^function ([a-z_]+)\(")


def lines(path):
    return [line for line in open(path).read().splitlines() if line]


def main():
    native, portable = lines(sys.argv[1]), lines(sys.argv[2])
    native = [l for l in native if not (FUNCTION.match(l) and FUNCTION.match(l).group(1) in NATIVE_INTERNAL)]
    names = {FUNCTION.match(l).group(1) for l in native if FUNCTION.match(l)}
    portable = [l for l in portable if not FUNCTION.match(l) or FUNCTION.match(l).group(1) in names]
    missing = sorted(set(native) - set(portable))
    extra = sorted(set(portable) - set(native))
    for line in missing:
        print("native only:  ", line)
    for line in extra:
        print("portable only:", line)
    print(f"{len(native)} native lines compared, {len(missing) + len(extra)} differences")
    return 1 if missing or extra else 0


if __name__ == "__main__":
    sys.exit(main())
