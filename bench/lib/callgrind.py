#!/usr/bin/env python3
"""Reads the callgrind profiles bench/profile collected and prints markdown:
instructions per transaction of each case, and for each extension function
next to its raw-SQL counterpart, where the instructions go.

Each case was run twice on its own connection: NAME.SHORT.callgrind and
NAME.LONG.callgrind, SHORT and LONG transactions (for a purge: one call over
SHORT and LONG expired guards). Per-transaction (per-guard) numbers are
(LONG profile - SHORT profile) / (LONG - SHORT), so connection start-up and
the first-call warm-up (catalog caches, planning of the prepared statements)
cancel out.

usage: callgrind.py DIR [description]
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

PAIRS = [
    ("claim_guard_new", "raw_insert_new", "claim of a new key"),
    ("plpgsql_new", "raw_insert_new", "PL/pgSQL claim of a new key"),
    ("claim_guards_100", "raw_insert_batch_100", "batch claim of 100 new keys (one call)"),
    ("claim_guard_existing", "raw_insert_existing", "claim of an existing key (retry)"),
    ("claim_or_lookup_replay", "raw_select_replay", "replay of a stored outcome"),
    ("record_outcome", "raw_update", "record_outcome"),
    ("lookup", "raw_select_lookup", "lookup"),
    ("purge_expired", "raw_purge_skip_locked", "purge_expired() vs its statement by hand"),
    ("raw_purge_skip_locked", "raw_purge_plain",
     "the purge statement with and without FOR UPDATE SKIP LOCKED"),
]

# Functions worth naming in the breakdown (inclusive cost), by substring.
FOCUS = [
    "PostgresMain", "exec_bind_message", "exec_execute_message", "PortalRun",
    "finish_xact_command", "CommitTransaction", "StartTransaction", "pq_getbyte", "ReadCommand",
    "socket_flush", "ExecuteFunctionCall", "ExecInterpExpr", "idempotency_",
    "run_sql_function", "run_catching_errors", "open_guard_store", "close_guard_store",
    "guard_table_owner", "require_scope_access", "get_namespace_oid", "get_relname_relid",
    "SearchSysCache1", "SPI_connect", "SPI_finish", "SPI_execute_plan", "_SPI_execute_plan",
    "_SPI_pquery", "GetCachedPlan", "CheckCachedPlan", "AcquireExecutorLocks",
    "ReleaseCachedPlan", "CreateQueryDesc", "standard_ExecutorStart", "standard_ExecutorRun",
    "standard_ExecutorFinish", "standard_ExecutorEnd", "InitPlan", "ExecInitNode",
    "ExecInitModifyTable", "ExecModifyTable", "ExecInsert", "ExecUpdate", "heap_insert",
    "heap_update", "ExecInsertIndexTuples", "ExecCheckIndexConstraints", "_bt_doinsert",
    "ExecOpenIndices", "ExecCloseIndices", "ExecEndPlan", "FreeExecutorState",
    "CreateExecutorState", "InitMaterializedSRF", "tuplestore_putvalues", "tuplestore_begin_heap",
    "tuplestore_end", "ExecMakeTableFunctionResult", "pg_strong_random", "RAND_bytes",
    "GetCurrentTimestamp", "CommandCounterIncrement", "GetTransactionSnapshot",
    "PushActiveSnapshot", "AllocSetContextCreateInternal", "MemoryContextDelete",
    "MemoryContextReset", "palloc", "SetUserIdAndSecContext", "plpgsql_call_handler",
    "plpgsql_exec_function", "exec_stmt_execsql", "SPI_execute_plan_with_paramlist",
    "heap_hot_search_buffer", "index_getnext_slot", "_bt_search", "ExecScan", "ExecIndexScan",
    "jsonb_eq", "DatumGetJsonbPCopy", "pg_detoast_datum_copy", "XLogInsert", "LockAcquireExtended",
    "LockRelationOid", "UnlockRelationId", "ResourceOwnerCreate", "CopyErrorData",
    "__sigsetjmp", "standard_ProcessUtility", "heap_lock_tuple", "heap_delete", "ExecLockRows",
    "ExecDelete", "TidNext", "ExecTidScan", "tuplesort_", "ExecSort", "index_fetch_heap",
    "purge_expired", "purge_raw", "exec_stmt_dynexecute", "XLogFlush", "ExecSubPlan",
    "ExecScanSubPlan", "ExecSetParamPlan", "ExecConstraints", "stringToNode", "ExecInitIndexScan",
    "build_function_result_tupdesc", "get_expr_result_type", "ExecInitFunctionScan", "heap_prune", "heap_page_prune_opt", "_bt_killitems",
]


def parse(path):
    """Self and inclusive instruction counts per function, and call counts."""
    names = {"fn": {}, "ob": {}}
    self_cost = defaultdict(int)
    call_cost = defaultdict(int)
    calls = defaultdict(int)
    function = callee = None
    pending_call = False
    positions = 1
    total = 0

    def resolve(kind, text):
        match = re.match(r"\((\d+)\)(?: (.*))?", text)
        if not match:
            return text
        if match.group(2) is not None:
            names[kind][match.group(1)] = match.group(2)
        return names[kind].get(match.group(1), text)

    with open(path, errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line:
                continue
            first = line[0]
            if first.isdigit() or first in "+-*":
                fields = line.split()
                cost = int(fields[positions]) if len(fields) > positions else 0
                if pending_call:
                    if callee != function:  # direct recursion is already counted
                        call_cost[function] += cost
                    pending_call = False
                else:
                    self_cost[function] += cost
            elif line.startswith("fn="):
                function = resolve("fn", line[3:])
            elif line.startswith("cfn="):
                callee = resolve("fn", line[4:])
            elif line.startswith("calls="):
                calls[callee] += int(line[6:].split()[0])
                pending_call = True
            elif line.startswith(("ob=", "cob=")):
                resolve("ob", line.split("=", 1)[1])
            elif line.startswith("positions:"):
                positions = len(line.split()[1:])
            elif line.startswith(("totals:", "summary:")):
                total = max(total, int(line.split()[1]))
    inclusive = {f: self_cost[f] + call_cost[f] for f in set(self_cost) | set(call_cost)}
    return {"self": dict(self_cost), "inclusive": inclusive, "calls": dict(calls),
            "total": total}


def per_transaction(short, long, span):
    def diff(a, b):
        return {k: (b.get(k, 0) - a.get(k, 0)) / span for k in set(a) | set(b)}

    return {"self": diff(short["self"], long["self"]),
            "inclusive": diff(short["inclusive"], long["inclusive"]),
            "calls": diff(short["calls"], long["calls"]),
            "total": (long["total"] - short["total"]) / span}


def fmt_count(value):
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2g}"


def short_name(name):
    name = re.sub(r"\(.*\)$", "", name) if "::" in name else name
    return name.replace("idempotency::pg::", "").replace("idempotency::", "")


def main():
    directory = Path(sys.argv[1])
    description = sys.argv[2] if len(sys.argv) > 2 else "?"
    files = defaultdict(dict)
    for path in directory.glob("*.callgrind"):
        name, count = path.name[: -len(".callgrind")].rsplit(".", 1)
        files[name][int(count)] = path
    cases, spans = {}, {}
    for name, by_count in sorted(files.items()):
        if len(by_count) < 2:
            continue
        short, long = sorted(by_count)[:2]
        cases[name] = per_transaction(parse(by_count[short]), parse(by_count[long]), long - short)
        spans[name] = (short, long)
    tx = next((spans[n] for n in spans if "purge" not in n), None)
    purge = next((spans[n] for n in spans if "purge" in n), None)

    def unit(name):
        return "guard" if "purge" in name else "transaction"

    out = ["# Instructions per call (callgrind)", "",
           f"Extension {description}. One pgbench client, `-M prepared`, synchronous_commit=off, "
           "server under `valgrind --tool=callgrind`. "
           + (f"Per transaction = (profile of {tx[1]} transactions - profile of {tx[0]}) / "
              f"{tx[1] - tx[0]}. " if tx else "")
           + (f"Per purged guard = (one purge call over {purge[1]} expired guards - one over "
              f"{purge[0]}) / {purge[1] - purge[0]}. " if purge else "")
           + "Instructions (Ir) count CPU work in the backend only: not the kernel (sockets, "
           "fsync), not waiting, not pgbench.", "",
           "| case | Ir per call | vs raw SQL |", "|---|--:|--:|"]
    for ext, raw, _ in PAIRS:
        for name in (ext, raw):
            if name in cases and f"| {name} |" not in "\n".join(out):
                ratio = ""
                if name == ext and raw in cases:
                    ratio = f"{cases[ext]['total'] / cases[raw]['total']:.2f}x " \
                            f"({cases[ext]['total'] - cases[raw]['total']:+,.0f})"
                out.append(f"| {name} | {cases[name]['total']:,.0f} per {unit(name)} | {ratio} |")
    for ext, raw, title in PAIRS:
        if ext not in cases or raw not in cases:
            continue
        e, r = cases[ext], cases[raw]
        out += ["", f"## {title}: `{ext}` vs `{raw}`", "",
                f"Inclusive Ir per {unit(ext)} of selected functions (calls per {unit(ext)} in "
                f"brackets); total {e['total']:,.0f} vs {r['total']:,.0f}.", "",
                f"| function | {ext} | {raw} |", "|---|--:|--:|"]
        chosen = []
        for name, cost in sorted(e["inclusive"].items(), key=lambda item: -item[1]):
            if cost < 0.004 * e["total"]:
                break
            if any(focus in name for focus in FOCUS):
                chosen.append(name)
        for name, cost in sorted(r["inclusive"].items(), key=lambda item: -item[1]):
            if cost < 0.004 * r["total"]:
                break
            if any(focus in name for focus in FOCUS) and name not in chosen:
                chosen.append(name)
        chosen.sort(key=lambda n: -max(e["inclusive"].get(n, 0), r["inclusive"].get(n, 0)))
        for name in chosen:
            def cell(case):
                cost = case["inclusive"].get(name, 0)
                if cost < 0.5:
                    return ""
                return f"{cost:,.0f} ({fmt_count(case['calls'].get(name, 0))})"
            out.append(f"| `{short_name(name)}` | {cell(e)} | {cell(r)} |")
        out += ["", f"Largest differences in self (exclusive) Ir per {unit(ext)}, "
                    f"{ext} minus {raw}:", "", "| function | difference | calls |", "|---|--:|--:|"]
        deltas = {n: e["self"].get(n, 0) - r["self"].get(n, 0)
                  for n in set(e["self"]) | set(r["self"])}
        for name, delta in sorted(deltas.items(), key=lambda item: -item[1])[:20]:
            calls = e["calls"].get(name, 0) - r["calls"].get(name, 0)
            out.append(f"| `{short_name(name)}` | {delta:+,.0f} | {'+' if calls >= 0 else ''}{fmt_count(calls)} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
