#!/usr/bin/env python3
"""Removes the portable edition's own frames from psql's CONTEXT blocks.

The native edition's functions are C: an error they raise has no context of
their own. The portable edition's are PL/pgSQL, and psql prints their frames
("PL/pgSQL function idempotency.claim_key(...) line 29 at RAISE", and the
"SQL statement" of each internal call). Those lines, and only those, are
removed; what is left of a context (the caller's own frames) stays, so a test's
output is compared with the native expected file line for line.

Usage: strip_context.py < results/x.out > x.out
"""
import re
import sys

EDITION_FRAME = re.compile(r'^(PL/pgSQL function idempotency\.|SQL function "[a-z_]+" statement \d+)')
# A frame of the call that led into an edition frame (the statement that called it).
CALLING_FRAME = re.compile(r'^(SQL statement |PL/pgSQL assignment |PL/pgSQL expression )')
PREFIX = "CONTEXT:  "


def kept(frames):
    result = []
    for index, frame in enumerate(frames):
        if EDITION_FRAME.match(frame):
            continue
        following = frames[index + 1] if index + 1 < len(frames) else ""
        if CALLING_FRAME.match(frame) and EDITION_FRAME.match(following):
            continue
        result.append(frame)
    return result


def main():
    lines = sys.stdin.read().split("\n")
    out, index = [], 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith(PREFIX):
            out.append(line)
            index += 1
            continue
        frames = []
        lines[index] = line[len(PREFIX):]
        while index < len(lines) and (not frames or EDITION_FRAME.match(lines[index])
                                      or CALLING_FRAME.match(lines[index])
                                      or lines[index].startswith("PL/pgSQL function ")):
            frame = lines[index]
            index += 1
            # A statement's text may span lines, up to its closing quote.
            if frame.startswith('SQL statement "'):
                while not frame.endswith('"') and index < len(lines):
                    frame += "\n" + lines[index]
                    index += 1
            frames.append(frame)
        frames = kept(frames)
        if frames:
            out.extend((PREFIX + "\n".join(frames)).split("\n"))
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
