#!/usr/bin/env python3
"""The Citus benchmark (bench/citus-run starts the servers): claim_guard() of
new keys through a Citus coordinator and a worker, delegated to the shard's
node or not, as ratios to the same claims on one plain server. distribute()
does not delegate (Citus 13.2.2 crashes a backend on a delegated call with a
NULL key, docs/scaling.md): the benchmark delegates claim_guard itself, to
measure what delegation would give; its keys are never NULL. The contenders
are interleaved (plain, coordinator, ..., plain, coordinator, ...) with
bench.py's own pgbench helpers; each run's guards are truncated before the next.
"""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import report  # noqa: E402

WORKLOAD = "11. Citus: claim, new keys"
PORTS = {"plain": os.environ["PGPORT"], "coordinator": os.environ["CITUS_COORDINATOR_PORT"],
         "worker1": os.environ["CITUS_WORKER1_PORT"]}
PROFILE = os.environ.get("CITUS_BENCH_PROFILE", "0") == "1"


class Contender(bench.Contender):
    def __init__(self, name, script, server, baseline=False):
        super().__init__(name, script, baseline=baseline, group=WORKLOAD)
        self.server = server


CONTENDERS = [
    Contender("one plain server", "claim_guard_new.sql", "plain", baseline=True),
    Contender("Citus, through the coordinator, delegated", "claim_guard_new.sql", "coordinator"),
    Contender("Citus, through the coordinator, not delegated", "claim_guard_new_not_delegated.sql",
              "coordinator"),
    Contender("Citus, through worker1, delegated", "claim_guard_new.sql", "worker1"),
]


def on(server, sql):
    bench.PORT = PORTS[server]
    return bench.psql(sql)


def setup():
    on("plain", "CREATE EXTENSION idempotency;")
    on("coordinator", "CREATE EXTENSION idempotency; SELECT idempotency.distribute();")
    on("coordinator", "SELECT pg_catalog.create_distributed_function("
       "'idempotency.claim_guard(text, text, interval, text, interval, text)'::regprocedure, "
       "distribution_arg_name => 'key', colocate_with => 'idempotency.guards');")
    for server in PORTS:
        on(server, "SELECT 1;")
    shards = on("coordinator", "SELECT count(*) FROM pg_dist_shard "
                "WHERE logicalrelid = 'idempotency.guards'::regclass;")
    bench.log(f"guards distributed over {shards} shards on 2 workers")


def truncate():
    on("plain", "TRUNCATE idempotency.guards;")
    on("coordinator", "TRUNCATE idempotency.guards;")


def backends(server):
    """The processes of a server's postmaster: its backends and workers."""
    postmaster = (bench.WORK / server / "data" / "postmaster.pid").read_text().split()[0]
    return subprocess.run(["ps", "--ppid", postmaster, "-o", "pid="], capture_output=True,
                          text=True).stdout.split()


def profile(contender, sync):
    """perf record -g of the backends of the server the clients connect to,
    during one run of the contender; the report by library and symbol."""
    out = bench.RESULTS / f"profile-{contender.server}-{contender.script.split('.')[0]}.txt"
    data = bench.WORK / "perf.data"
    bench.PORT = PORTS[contender.server]
    run = threading.Thread(target=bench.pgbench,
                           args=(contender.script, bench.CLIENTS[-1], sync), kwargs={"tag": "profile"})
    run.start()
    time.sleep(1)
    pids = ",".join(backends(contender.server))
    subprocess.run(["perf", "record", "-g", "-o", str(data), "-p", pids, "--",
                    "sleep", str(max(1, bench.SECONDS - 2))],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run.join()
    symbols = subprocess.run(
        ["perf", "report", "-i", str(data), "--no-children", "--stdio", "-g", "none",
         "--sort", "dso,symbol", "--percent-limit", "0.8"], capture_output=True, text=True).stdout
    libraries = subprocess.run(
        ["perf", "report", "-i", str(data), "--no-children", "--stdio", "-g", "none",
         "--sort", "dso", "--percent-limit", "0.5"], capture_output=True, text=True).stdout
    def keep(text):  # the report's lines, without comments and the empty parent columns
        return "\n".join(re.sub(r"(\s+-)*\s*$", "", line) for line in text.splitlines()
                         if line.strip() and not line.startswith("#"))

    out.write_text(f"# {contender.name}: {bench.CLIENTS[-1]} clients, synchronous_commit={sync}.\n"
                   f"# perf record -g of that server's backends for {max(1, bench.SECONDS - 2)} s;"
                   " self time by library, then by symbol.\n"
                   + keep(libraries) + "\n\n" + keep(symbols) + "\n")
    bench.log(f"  profile written to {out}")


def main():
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    bench.PORT = PORTS["plain"]
    bench.describe_machine()
    setup()
    for sync in bench.SYNCS:
        for clients in bench.CLIENTS:
            for round_number in range(1, bench.ROUNDS + 1):
                for contender in CONTENDERS:
                    truncate()
                    bench.PORT = PORTS[contender.server]
                    try:
                        bench.run_one(WORKLOAD, contender, clients, sync, round_number)
                    except RuntimeError as error:  # a connection refused under load: once more
                        bench.log(f"  retrying the run once: {str(error)[:300]}")
                        truncate()
                        bench.PORT = PORTS[contender.server]
                        bench.run_one(WORKLOAD, contender, clients, sync, round_number)
    if PROFILE:
        for contender in CONTENDERS:
            truncate()
            profile(contender, bench.SYNCS[-1])
    bench.results["meta"]["loadavg_end"] = os.getloadavg()
    table = report.aggregate(bench.results)
    lines = [f"Run of {bench.results['meta']['date']}; extension "
             f"{bench.results['meta']['extension']}; {os.cpu_count()} cores; "
             f"{bench.results['meta']['postgresql'].split(' on ')[0]}, Citus 13.2.2 "
             "(coordinator + 2 workers on loopback); "
             f"{bench.SECONDS} s per run, median of {bench.ROUNDS} interleaved rounds; "
             "load average " + " / ".join(f"{x:.1f}" for x in bench.results["meta"]["loadavg_start"])
             + " at the start.", "",
             "| contender | clients | synchronous_commit | TPS | p50 ms | p99 ms | ratio to one plain server |",
             "|---|--:|---|--:|--:|--:|--:|"]
    for row in table:
        ratio = "1.00 (baseline)" if row["baseline"] else \
            ("" if row["ratio"] is None else f"{row['ratio']:.2f}")
        lines.append(f"| {row['contender']} | {row['clients']} | {row['sync']} | "
                     f"{report.fmt(row['tps'], 0)} | {report.fmt(row['p50_ms'], 3)} | "
                     f"{report.fmt(row['p99_ms'], 3)} | {ratio} |")
    text = "\n".join(lines) + "\n"
    (bench.RESULTS / "latest.md").write_text(text)
    report.write_csv(table, bench.RESULTS / "latest.csv")
    report.save_json(bench.results, bench.RESULTS / "latest.json")
    print(text)


if __name__ == "__main__":
    main()
