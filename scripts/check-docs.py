#!/usr/bin/env python3
"""Checks that the documentation says what the code does (`make test`, suite `docs`).

    scripts/check-docs.py [--facts FACTS.json] [ROOT]

ROOT (default: the current directory) is a tree holding README.md, docs/,
src/, sql/ and the Makefile. FACTS.json is what test/docs/facts.sql printed
on a server with the extension created (its functions and settings); without
it the function and setting checks are skipped, and say so.

Checks, one TAP line each ("not ok" lines carry what is wrong):
  functions  every function the extension creates appears in docs/reference.md
             as `idempotency.name(arguments) returns result`, exactly as
             pg_get_function_arguments/pg_get_function_result print it, in a
             code block; and every such line names a function that exists.
  settings   every idempotency.* setting has a row in the settings table of
             docs/reference.md with its default (as SHOW prints it on a fresh
             server) and its pg_settings.context; no row names a setting
             that does not exist.
  sqlstates  every SQLSTATE the code raises (src/core/sql_state.hpp,
             ERRCODE_* in src/, USING ERRCODE in sql/ and portable/sql/) has
             exactly one row in the errors table of docs/reference.md.
  links      every relative link and #anchor in the Markdown files resolves
             (GitHub's heading anchors).
  make       every `make TARGET` a Markdown file names (in code) is a target
             of the Makefile (`make -pRrq` lists PGXS's too).
"""
import json
import os
import re
import subprocess
import sys
import unicodedata

# PostgreSQL's ERRCODE_* macros that src/ uses, with their codes. A macro not
# listed fails the check, so a new one is added here (and to the table).
ERRCODE_MACROS = {
    "ERRCODE_INTERNAL_ERROR": "XX000",
    "ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE": "55000",
    "ERRCODE_OUT_OF_MEMORY": "53200",
    "ERRCODE_T_R_SERIALIZATION_FAILURE": "40001",
    "ERRCODE_FEATURE_NOT_SUPPORTED": "0A000",
    "ERRCODE_INSUFFICIENT_PRIVILEGE": "42501",
    "ERRCODE_INVALID_PARAMETER_VALUE": "22023",
    "ERRCODE_NULL_VALUE_NOT_ALLOWED": "22004",
    "ERRCODE_PROGRAM_LIMIT_EXCEEDED": "54000",
    "ERRCODE_CONFIGURATION_LIMIT_EXCEEDED": "53400",
    "ERRCODE_READ_ONLY_SQL_TRANSACTION": "25006",
    "ERRCODE_STATEMENT_TOO_COMPLEX": "54001",
}

# Markdown files that are not the project's documentation (vendored, generated).
SKIPPED_DIRS = {".git", "build", "dist", "node_modules", "output_iso", "tmp_check",
                "log", "vendor"}


def read(root, path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read()


def section(text, title):
    """The lines of the `## title` section (up to the next heading of level 1 or 2)."""
    lines, inside = [], False
    for line in text.splitlines():
        if re.match(r"^#{1,2} ", line):
            inside = line.lstrip("#").strip().lower() == title.lower()
            continue
        if inside:
            lines.append(line)
    return lines


def table_rows(lines):
    """The cells of each Markdown table row (header and separator rows included)."""
    rows = []
    for line in lines:
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows.append(cells)
    return rows


def code_blocks(text):
    """(lines in fenced code blocks, lines outside them)."""
    inside, code, prose = False, [], []
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        (code if inside else prose).append(line)
    return code, prose


# -- functions ---------------------------------------------------------------
def check_functions(root, facts):
    reference = read(root, "docs/reference.md")
    code, _ = code_blocks(reference)
    documented = {line.strip() for line in code
                  if re.match(r"^idempotency\.\w+\(.*\) returns \S", line.strip())}
    created = set(facts["functions"])
    problems = [f"docs/reference.md: function not documented: {s}" for s in sorted(created - documented)]
    problems += [f"docs/reference.md: documented signature the extension does not create: {s}"
                 for s in sorted(documented - created)]
    return problems


# -- settings ----------------------------------------------------------------
def check_settings(root, facts):
    rows = table_rows(section(read(root, "docs/reference.md"), "Settings"))
    documented = {}
    for cells in rows:
        m = re.fullmatch(r"`(idempotency\.\w+)`", cells[0]) if cells else None
        if m:
            if m.group(1) in documented:
                return [f"docs/reference.md: setting {m.group(1)} has two rows"]
            documented[m.group(1)] = cells
    problems = []
    for s in facts["settings"]:
        name = s["name"]
        if name not in documented:
            problems.append(f"docs/reference.md: setting not in the settings table: {name}")
            continue
        cells = documented.pop(name)
        if s["changed"]:
            problems.append(f"{name} is set on the server the facts come from: its default is unknown")
            continue
        want = f"`{s['default']}`" if s["default"] != "" else "(empty)"
        if len(cells) < 3 or cells[1] != want:
            problems.append(f"docs/reference.md: {name}: default is {want}, the table says "
                            f"{cells[1] if len(cells) > 1 else '(nothing)'}")
        if len(cells) < 3 or cells[2] != f"`{s['context']}`":
            problems.append(f"docs/reference.md: {name}: context is `{s['context']}`, the table says "
                            f"{cells[2] if len(cells) > 2 else '(nothing)'}")
    problems += [f"docs/reference.md: setting in the table that does not exist: {n}" for n in documented]
    return problems


# -- SQLSTATEs ---------------------------------------------------------------
def raised_sqlstates(root):
    """{code: where} for every SQLSTATE the code raises."""
    raised = {}
    for m in re.finditer(r'return "([0-9A-Z]{5})";', read(root, "src/core/sql_state.hpp")):
        if m.group(1) != "XX000":  # the switch's unreachable fallback
            raised.setdefault(m.group(1), "src/core/sql_state.hpp")
    problems = []
    for d, ext, pattern in (("src", (".cpp", ".hpp"), r"\b(ERRCODE_[A-Z_]+)\b"),
                            ("sql", (".sql",), r"ERRCODE\s*=\s*'([0-9A-Za-z]{5})'"),
                            ("portable/sql", (".sql",), r"ERRCODE\s*=\s*'([0-9A-Za-z]{5})'")):
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for name in sorted(files):
                if not name.endswith(ext):
                    continue
                path = os.path.relpath(os.path.join(dirpath, name), root)
                if d == "sql" and not name.startswith("idempotency--"):
                    continue  # pg_regress inputs, not the extension
                for m in re.finditer(pattern, read(root, path)):
                    code = m.group(1)
                    if code.startswith("ERRCODE_"):
                        if code not in ERRCODE_MACROS:
                            problems.append(f"{path}: {code} is not in check-docs.py's ERRCODE_MACROS")
                            continue
                        code = ERRCODE_MACROS[code]
                    raised.setdefault(code.upper(), path)
    return raised, problems


def check_sqlstates(root):
    raised, problems = raised_sqlstates(root)
    rows = table_rows(section(read(root, "docs/reference.md"), "Errors"))
    documented = {}
    for cells in rows:
        m = re.fullmatch(r"`([0-9A-Z]{5})`", cells[0]) if cells else None
        if m:
            documented[m.group(1)] = documented.get(m.group(1), 0) + 1
    for code, where in sorted(raised.items()):
        if code not in documented:
            problems.append(f"docs/reference.md: SQLSTATE {code} (raised in {where}) has no row "
                            "in the errors table")
    problems += [f"docs/reference.md: SQLSTATE {c} has {n} rows in the errors table (one each)"
                 for c, n in sorted(documented.items()) if n > 1]
    return problems


# -- links -------------------------------------------------------------------
def markdown_files(root):
    found = []
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        found += [os.path.relpath(os.path.join(dirpath, f), root) for f in sorted(files)
                  if f.endswith(".md")]
    return found


def github_anchor(heading):
    """The anchor GitHub gives a heading: its text, lower case, without
    punctuation but `-` and `_`, spaces as `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    text = text.strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(text):
    found, seen = set(), {}
    inside = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        m = None if inside else re.match(r"^#{1,6} +(.*?) *#*$", line)
        if m:
            base = github_anchor(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        for a in re.finditer(r'<a (?:name|id)="([^"]+)"', line):
            found.add(a.group(1))
    return found


def strip_code_spans(line):
    return re.sub(r"`[^`]*`", "", line)


def check_links(root):
    problems, cache = [], {}
    for path in markdown_files(root):
        _, prose = code_blocks(read(root, path))
        for line in prose:
            for m in re.finditer(r"\]\(([^)\s]+)(?: \"[^\"]*\")?\)", strip_code_spans(line)):
                target = m.group(1)
                if re.match(r"^[a-z]+:", target):
                    continue  # http:, https:, mailto:
                file_part, _, anchor = target.partition("#")
                linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
                    if file_part else path
                if not os.path.exists(os.path.join(root, linked)):
                    problems.append(f"{path}: link to a missing file: {target}")
                    continue
                if anchor and linked.endswith(".md"):
                    if linked not in cache:
                        cache[linked] = anchors(read(root, linked))
                    if anchor not in cache[linked]:
                        problems.append(f"{path}: link to a missing anchor: {target}")
    return problems


# -- make targets ------------------------------------------------------------
def make_targets(root):
    out = subprocess.run(["make", "-pRrq", "-C", root, ":"], capture_output=True, text=True).stdout
    targets = set()
    for line in out.splitlines():
        m = re.match(r"^([A-Za-z0-9_.%/-]+( [A-Za-z0-9_.%/-]+)*):(?!=)", line)
        if m and not line.startswith("#"):
            targets.update(m.group(1).split())
    return targets


def named_targets(text):
    """(target, line) for every `make TARGET` in code spans and code blocks."""
    code, prose = code_blocks(text)
    snippets = code + [s for line in prose for s in re.findall(r"`([^`]+)`", line)]
    named = []
    for snippet in snippets:
        for m in re.finditer(r"(?:^|[\s;&|(])make((?:\s+[^\s;&|)]+)*)", snippet):
            words = m.group(1).split()
            i = 0
            while i < len(words):
                w = words[i]
                if w in ("-C", "-f"):
                    break  # another directory or makefile: not ours to check
                if w.startswith("-") or "=" in w:
                    i += 1
                    continue
                if re.fullmatch(r"[a-z][a-z0-9_-]*", w):
                    named.append((w, snippet.strip()))
                break
    return named


def check_make_targets(root):
    targets = make_targets(root)
    if "test" not in targets:
        return ["make -pRrq lists no target `test`: cannot read the Makefile's targets"]
    problems = []
    for path in markdown_files(root):
        for target, snippet in named_targets(read(root, path)):
            if target not in targets:
                problems.append(f"{path}: `make {target}` is not a Makefile target ({snippet})")
    return problems


def main(argv):
    facts_path = None
    if len(argv) > 1 and argv[1] == "--facts":
        facts_path = argv[2]
        argv = argv[:1] + argv[3:]
    root = argv[1] if len(argv) > 1 else "."
    facts = None
    if facts_path:
        with open(facts_path, encoding="utf-8") as f:
            facts = json.load(f)
    checks = [("functions", lambda: check_functions(root, facts) if facts else None),
              ("settings", lambda: check_settings(root, facts) if facts else None),
              ("sqlstates", lambda: check_sqlstates(root)),
              ("links", lambda: check_links(root)),
              ("make", lambda: check_make_targets(root))]
    failed = 0
    for i, (name, check) in enumerate(checks, 1):
        problems = check()
        if problems is None:
            print(f"ok {i} - {name} # SKIP no --facts from a server")
        elif problems:
            failed += 1
            print(f"not ok {i} - {name}")
            for p in problems:
                print(f"# {p}")
        else:
            print(f"ok {i} - {name}")
    print(f"1..{len(checks)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
