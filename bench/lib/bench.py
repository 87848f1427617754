#!/usr/bin/env python3
"""The workloads of `make bench`.

bench/run starts the PostgreSQL cluster and the two Redis servers and hands
them over in the environment (PG_BIN, PGPORT, REDIS_FAST_PORT,
REDIS_DURABLE_PORT, BENCH_WORK). This script sets up the databases, runs the
workloads with the contenders of each interleaved (A, B, C, A, B, C, ...), and
writes bench/results/latest.json; report.py turns that into the markdown
table, the CSV and the chart.
"""

import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import counters_picture  # noqa: E402
import report  # noqa: E402

BENCH = Path(__file__).resolve().parent.parent
SCRIPTS = BENCH / "pgbench"
RESULTS = Path(os.environ.get("BENCH_RESULTS", BENCH / "results"))


def env_int(name, default):
    return int(os.environ.get(name, "") or default)


def env_words(name, default):
    return (os.environ.get(name, "") or default).replace(",", " ").split()


SECONDS = env_int("BENCH_SECONDS", 6)
ROUNDS = max(1, env_int("BENCH_ROUNDS", 3))
CLIENTS = [int(c) for c in env_words("BENCH_CLIENTS", "1 8")]
SYNCS = env_words("BENCH_SYNC", "off on")
WORKLOADS = set(env_words("BENCH_WORKLOADS", "1 2 3 4 5 6 7 8 9 10"))
BATCH_KEYS = 100
BATCH_CLIENTS = [int(c) for c in env_words("BENCH_BATCH_CLIENTS", "1 8")]
PRELOAD_ROWS = env_int("BENCH_PRELOAD_ROWS", 100_000)
SCALE_ROWS = env_int("BENCH_SCALE_ROWS", 10_000_000)
SCALE_SMALL_ROWS = env_int("BENCH_SCALE_SMALL_ROWS", 10_000)
SCALE_CLIENTS = [int(c) for c in env_words("BENCH_SCALE_CLIENTS", "1 8")]
SCALE_SYNC = os.environ.get("BENCH_SCALE_SYNC", "") or "off"
PURGE_ROWS = env_int("BENCH_PURGE_ROWS", 1_000_000)
PURGE_CLIENTS = env_int("BENCH_PURGE_CLIENTS", 8)
PURGE_SYNC = os.environ.get("BENCH_PURGE_SYNC", "") or "off"
PURGE_RAW = os.environ.get("BENCH_PURGE_RAW", "0") == "1"
KEEP = os.environ.get("BENCH_KEEP", "0") == "1"

PG_BIN = os.environ["PG_BIN"]
HOST = "127.0.0.1"
PORT = os.environ["PGPORT"]
WORK = Path(os.environ["BENCH_WORK"])
LOGS = WORK / "pgbench-logs"
REDIS_PORTS = {"fast": os.environ.get("REDIS_FAST_PORT"), "durable": os.environ.get("REDIS_DURABLE_PORT")}

OUTCOME = '{"charge_id": "ch_3MmlLrLkdIwHu7ix", "amount": 1999}'

results = {"meta": {}, "runs": [], "extra": {}}


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def human(n):
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if n >= size and n % (size // 10 or 1) == 0:
            value = n / size
            return f"{value:g}{suffix}"
    return str(n)


# --- PostgreSQL -------------------------------------------------------------


def psql(sql, db="postgres", timing=False):
    """Runs SQL (one or more statements, each autocommitted) and returns the
    output; with timing=True, (output lines, [milliseconds per statement])."""
    if timing:
        sql = "\\timing on\n" + sql
    done = subprocess.run(
        [f"{PG_BIN}/psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-p", PORT,
         "-U", "postgres", "-d", db],
        input=sql, text=True, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed on {db}: {done.stderr.strip()}\nSQL: {sql[:500]}")
    if not timing:
        return done.stdout.strip()
    lines, times = [], []
    for line in done.stdout.splitlines():
        match = re.match(r"^Time: ([\d.]+) ms", line)
        if match:
            times.append(float(match.group(1)))
        elif line.strip():
            lines.append(line)
    return lines, times


def checkpoint(db="postgres"):
    psql("CHECKPOINT;", db)


def load_guards(table, first, last, status, expires_in, db="postgres"):
    psql(f"SELECT bench_raw.load_guards('{table}', {first}, {last}, '{status}', '{expires_in}');", db)


def setup_database(db):
    if db != "postgres":
        psql(f"DROP DATABASE IF EXISTS {db};")
        psql(f"CREATE DATABASE {db};")
    psql("CREATE EXTENSION idempotency;", db)
    psql((BENCH / "sql" / "setup.sql").read_text(), db)


# The portable edition (portable/, SQL and PL/pgSQL) runs in a database of its
# own in the same cluster, installed with psql -f by a non-superuser owner as
# on a managed service; the same pgbench scripts call it there.
PORTABLE_DB = "portable"


def setup_portable_database():
    subprocess.run(["python3", str(BENCH.parent / "portable" / "build.py"), "--out",
                    str(WORK / "portable")], check=True, capture_output=True)
    # build.py names the script after the extension's version (the control file).
    portable_script, = (WORK / "portable").glob("idempotency-portable--*.sql")
    psql(f"DROP DATABASE IF EXISTS {PORTABLE_DB}; DROP ROLE IF EXISTS portable_owner;"
         f" CREATE ROLE portable_owner LOGIN; CREATE DATABASE {PORTABLE_DB} OWNER portable_owner;")
    done = subprocess.run(
        [f"{PG_BIN}/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-p", PORT,
         "-U", "portable_owner", "-d", PORTABLE_DB, "-f",
         str(portable_script)], text=True, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"installing the portable edition failed: {done.stderr.strip()}")
    psql((BENCH / "sql" / "setup.sql").read_text(), PORTABLE_DB)


def portable(name, script, **options):
    """The portable edition's contender running `script` (a native one's)."""
    return Contender(f"portable {name}", script, db=PORTABLE_DB, **options)


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def pgbench(script, clients, sync, db="postgres", variables=None, tag="run", options=""):
    """One pgbench run of SECONDS: tps, p50 and p99 latency (ms, from the
    per-transaction log) and the largest per-client transaction count."""
    LOGS.mkdir(parents=True, exist_ok=True)
    prefix = LOGS / tag
    command = [f"{PG_BIN}/pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "1",
               "-T", str(SECONDS), "-f", str(SCRIPTS / script), "-h", HOST, "-p", PORT,
               "-U", "postgres", "--log", f"--log-prefix={prefix}"]
    for name, value in (variables or {}).items():
        command += ["-D", f"{name}={value}"]
    command.append(db)
    env = dict(os.environ, PGOPTIONS=f"-c synchronous_commit={sync} {options}".strip())
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    output = done.stdout + done.stderr
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", output, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", output, re.M)
    if done.returncode != 0 or tps is None or "aborted" in output or (failed and int(failed.group(1))):
        raise RuntimeError(f"pgbench {script} failed:\n{output}")
    latencies, per_client = [], {}
    for path in sorted(LOGS.glob(f"{tag}.*")):
        with open(path) as lines:
            for line in lines:
                fields = line.split()
                latencies.append(int(fields[2]))
                client = fields[0]
                per_client[client] = per_client.get(client, 0) + 1
        if not KEEP:
            path.unlink()
    latencies.sort()
    return {"tps": float(tps.group(1)), "p50_ms": percentile(latencies, 0.50) / 1000.0,
            "p99_ms": percentile(latencies, 0.99) / 1000.0, "transactions": len(latencies),
            "max_per_client": max(per_client.values()) if per_client else 0}


# --- Redis ------------------------------------------------------------------

redis_rates = {}


def redis_benchmark(port, clients, requests, pipeline=1):
    command = ["redis-benchmark", "-h", HOST, "-p", str(port), "-c", str(clients), "-n",
               str(requests), "-r", "2000000000", "-P", str(pipeline), "--csv",
               "SET", "key:__rand_int__", "v", "NX", "EX", "3600"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed:\n{done.stdout}{done.stderr}")
    rows = [line for line in done.stdout.splitlines() if line.startswith('"SET')]
    fields = [float(field.strip('"')) for field in rows[-1].split('","')[1:]]
    rps, _avg, _min, p50, _p95, p99, _max = fields
    return {"tps": rps, "p50_ms": p50, "p99_ms": p99, "transactions": requests,
            "seconds": elapsed}


def redis_run(mode, clients, pipeline=1):
    """redis-benchmark counts requests, not time: size the run from a short
    calibration so that it lasts about SECONDS."""
    port = REDIS_PORTS[mode]
    key = (mode, clients, pipeline)
    if key not in redis_rates:
        requests = 500
        while True:
            trial = redis_benchmark(port, clients, requests, pipeline)
            if trial["seconds"] >= 1.0 or requests >= 10_000_000:
                break
            requests = int(requests * max(2.0, 1.5 / max(trial["seconds"], 0.01)))
        redis_rates[key] = trial["tps"]
    run = redis_benchmark(port, clients, max(1000, int(redis_rates[key] * SECONDS)), pipeline)
    redis_rates[key] = run["tps"]
    return run


class WaitSampler(threading.Thread):
    """What the backends of a pgbench run are doing, sampled every 50 ms from
    pg_stat_activity: on the CPU, waiting (wait_event_type:wait_event), or idle
    while pgbench has the turn. Counts per state, for the report's table of
    what bounds a workload that more efficient code alone does not speed up."""

    QUERY = ("SELECT CASE WHEN a.state <> 'active' THEN 'idle (pgbench''s turn)'"
             " WHEN a.wait_event IS NULL THEN 'on CPU'"
             " ELSE a.wait_event_type || ':' || a.wait_event END, pg_catalog.count(*)"
             " FROM pg_catalog.pg_stat_activity AS a"
             " WHERE a.application_name = 'pgbench' AND a.backend_type = 'client backend'"
             " GROUP BY 1")

    def __init__(self, db):
        super().__init__(daemon=True)
        self.db, self.counts, self.error = db, {}, None
        self.stopping = threading.Event()
        self.start()

    def run(self):
        try:
            import psycopg
            with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname=self.db,
                                 autocommit=True) as connection:
                while not self.stopping.wait(0.05):
                    for state, count in connection.execute(self.QUERY):
                        self.counts[state] = self.counts.get(state, 0) + count
        except Exception as error:  # reported by finish()
            self.error = error

    def finish(self):
        self.stopping.set()
        self.join()
        if self.error:
            raise RuntimeError(f"sampling pg_stat_activity failed: {self.error}")
        return self.counts


# --- contenders and interleaving ---------------------------------------------


class Contender:
    """A contender of a workload. The ratio column compares each contender to
    the baseline of its group (same workload, group, clients and sync)."""

    def __init__(self, name, script=None, redis=None, db="postgres", variables=None,
                 baseline=False, group=None, keys_per_call=1, options="", sample_waits=False):
        self.name, self.script, self.redis, self.db = name, script, redis, db
        self.sample_waits = sample_waits  # WaitSampler during each pgbench run
        self.options = options  # more PGOPTIONS for the session (-c setting=value)
        # A batch contender's "tps" is reported in keys/s: calls/s times this
        # for pgbench; redis-benchmark pipelines this many commands.
        self.keys_per_call = keys_per_call
        self.variables = variables or {}
        self.baseline, self.group = baseline, group


def record(workload, contender, clients, sync, round_number, measured, baseline=False,
           group=None, **extra):
    row = {"workload": workload, "contender": contender, "clients": clients, "sync": sync,
           "round": round_number, "baseline": baseline, "group": group or workload}
    row.update(measured)
    row.update(extra)
    results["runs"].append(row)
    log(f"  {workload} | {contender} | {clients} clients | sync {sync} | round {round_number}: "
        f"{measured['tps']:.0f} tps, p50 {measured['p50_ms']:.3f} ms, p99 {measured['p99_ms']:.3f} ms")
    report.save_json(results, RESULTS / "latest.json")


run_counter = 0


def run_one(workload, contender, clients, sync, round_number, before=None):
    global run_counter
    run_counter += 1
    variables = dict(contender.variables)
    if before:
        variables.update(before(contender, clients, sync, round_number, run_counter) or {})
    if contender.redis:
        measured = redis_run(contender.redis, clients, contender.keys_per_call)
        sync = {"fast": "off", "durable": "on"}[contender.redis]
    else:
        checkpoint(contender.db)
        sampler = WaitSampler(contender.db) if contender.sample_waits else None
        try:
            measured = pgbench(contender.script, clients, sync, contender.db, variables,
                               tag=f"r{run_counter}", options=contender.options)
        except Exception:
            if sampler:
                sampler.stopping.set()  # pgbench's error is the one to report
            raise
        waits = sampler.finish() if sampler else None
        measured["tps"] *= contender.keys_per_call
        if waits is not None:
            measured["waits"] = waits
    extra = {}
    if "pool" in variables and measured["max_per_client"] > int(variables["pool"]):
        extra["note"] = "pool of pending guards ran out: later calls hit completed guards"
        log(f"  WARNING: {extra['note']}")
    measured.pop("max_per_client", None)
    measured.pop("seconds", None)
    record(workload, contender.name, clients, sync, round_number, measured,
           baseline=contender.baseline, group=contender.group, **extra)
    return measured


def interleave(workload, contenders, clients_list=None, syncs=None, before=None):
    """For each setting, rounds of every contender in turn: A, B, C, A, B, C."""
    for sync in syncs or SYNCS:
        for clients in clients_list or CLIENTS:
            for round_number in range(1, ROUNDS + 1):
                for contender in contenders(sync):
                    run_one(workload, contender, clients, sync, round_number, before)


# --- the workloads -------------------------------------------------------------

W1 = "1. claim, new keys"
W2 = "2. claim, existing keys"
W3 = "3. replay a stored outcome"
W4 = "4. record_outcome"
W5 = "5. lookup"
W6 = "6. scale"
W7 = "7. purge"
W8 = "8. batch claims, 100 new keys a call (keys/s)"
W9 = "9. counters on vs off (claim_guard, new keys)"
W10 = "10. scope limits: a limited scope vs an unlimited one (claim_guard, new keys)"
W13 = "13. get-or-create: claim_or_lookup vs INSERT ... ON CONFLICT DO SELECT (PostgreSQL 19)"


def reset_tables(db="postgres"):
    psql("TRUNCATE idempotency.guards, bench_raw.guards;", db)
    if db == "postgres":
        psql("TRUNCATE idempotency.guards;", PORTABLE_DB)


def workload_claim_new():
    log(f"workload {W1}")
    reset_tables()
    psql("VACUUM ANALYZE idempotency.guards; VACUUM ANALYZE bench_raw.guards;")
    psql("VACUUM ANALYZE idempotency.guards;", PORTABLE_DB)

    def contenders(sync):
        redis = Contender("Redis SET NX EX, no persistence", redis="fast") if sync == "off" else \
            Contender("Redis SET NX EX, appendfsync always", redis="durable")
        return [Contender("claim_guard()", "claim_guard_new.sql"),
                portable("claim_guard()", "claim_guard_new.sql"),
                Contender("raw INSERT ON CONFLICT", "raw_insert_new.sql", baseline=True),
                Contender("PL/pgSQL INSERT ON CONFLICT", "plpgsql_claim_new.sql"),
                redis]

    interleave(W1, contenders)


def workload_batch_claims():
    log(f"workload {W8}")
    reset_tables()
    psql("VACUUM ANALYZE idempotency.guards; VACUUM ANALYZE bench_raw.guards;")

    def contenders(sync):
        redis = Contender("Redis SET NX EX pipelined 100, no persistence", redis="fast",
                          keys_per_call=BATCH_KEYS) if sync == "off" else \
            Contender("Redis SET NX EX pipelined 100, appendfsync always", redis="durable",
                      keys_per_call=BATCH_KEYS)
        return [Contender("claim_guards()", "claim_guards_100.sql", keys_per_call=BATCH_KEYS,
                          sample_waits=True),
                portable("claim_guards()", "claim_guards_100.sql", keys_per_call=BATCH_KEYS),
                Contender("raw INSERT ... SELECT ON CONFLICT", "raw_insert_batch_100.sql",
                          baseline=True, keys_per_call=BATCH_KEYS, sample_waits=True),
                redis]

    interleave(W8, contenders, clients_list=BATCH_CLIENTS)


def workload_counters():
    """The cost of counting (idempotency.track_counters, set per session),
    then a picture of the counters over a run of mixed traffic."""
    log(f"workload {W9}")
    reset_tables()
    psql("VACUUM ANALYZE idempotency.guards;")

    def contenders(sync):
        return [Contender("claim_guard(), counters on", "claim_guard_new.sql"),
                Contender("claim_guard(), counters off", "claim_guard_new.sql", baseline=True,
                          options="-c idempotency.track_counters=off")]

    interleave(W9, contenders, syncs=["off"])
    reset_tables()
    results["extra"]["counters_picture"] = counters_picture.run(
        HOST, PORT, RESULTS / "counters.png", log)


def workload_limits():
    """The cost of enforcing set_limits: claims in a limited scope (limits far
    from reached, so never refused) against claims in a scope without."""
    log(f"workload {W10}")
    reset_tables()
    psql("SELECT idempotency.set_limits('limited', max_live => 1000000000000, "
         "max_pending => 1000000000000); VACUUM ANALYZE idempotency.guards;")

    def contenders(sync):
        return [Contender("claim_guard(), limited scope", "claim_guard_new_limited.sql"),
                Contender("claim_guard(), unlimited scope", "claim_guard_new.sql",
                          baseline=True)]

    interleave(W10, contenders, syncs=["off"])
    psql("SELECT idempotency.drop_limits('limited');")


def preload_completed():
    log(f"pre-loading {PRELOAD_ROWS} completed guards into both tables")
    reset_tables()
    load_guards("idempotency.guards", 1, PRELOAD_ROWS, "succeeded", "30 days")
    load_guards("bench_raw.guards", 1, PRELOAD_ROWS, "succeeded", "30 days")
    load_guards("idempotency.guards", 1, PRELOAD_ROWS, "succeeded", "30 days", PORTABLE_DB)
    psql("VACUUM ANALYZE idempotency.guards; VACUUM ANALYZE bench_raw.guards;")
    psql("VACUUM ANALYZE idempotency.guards;", PORTABLE_DB)


def function_against_raw(workload, function, function_script, raw, raw_script):
    """A function against the raw SQL it replaces, over the pre-loaded completed guards."""
    log(f"workload {workload}")
    rows = {"rows": PRELOAD_ROWS}
    interleave(workload, lambda sync: [
        Contender(function, function_script, variables=rows),
        portable(function, function_script, variables=rows),
        Contender(raw, raw_script, variables=rows, baseline=True)])


def workload_claim_existing():
    function_against_raw(W2, "claim_guard()", "claim_guard_existing.sql",
                         "raw INSERT ON CONFLICT", "raw_insert_existing.sql")


def workload_replay():
    function_against_raw(W3, "claim_or_lookup()", "claim_or_lookup_replay.sql",
                         "raw SELECT", "raw_select_replay.sql")


def workload_do_select():
    """PostgreSQL 19's INSERT ... ON CONFLICT DO SELECT ... RETURNING, the
    hand-written get-or-create, against claim_or_lookup(): new keys, then
    retries of the pre-loaded completed guards (their stored outcome)."""
    version = int(psql("SHOW server_version_num;"))
    if version < 190000:
        log(f"workload {W13}: skipped, PostgreSQL {version // 10000} has no ON CONFLICT DO SELECT")
        return
    log(f"workload {W13}")
    rows = {"rows": PRELOAD_ROWS}
    interleave(W13, lambda sync: [
        Contender("claim_or_lookup(), new keys", "claim_or_lookup_new.sql", group="new keys"),
        Contender("raw INSERT ON CONFLICT DO SELECT, new keys", "raw_do_select_new.sql",
                  group="new keys", baseline=True),
        Contender("claim_or_lookup(), replays", "claim_or_lookup_replay.sql", variables=rows,
                  group="replays"),
        Contender("raw INSERT ON CONFLICT DO SELECT, replays", "raw_do_select_replay.sql",
                  variables=rows, group="replays", baseline=True)])


def workload_lookup():
    function_against_raw(W5, "lookup()", "lookup.sql", "raw PK SELECT", "raw_select_lookup.sql")


def workload_record():
    log(f"workload {W4}")
    tables = {"record_outcome()": "idempotency.guards", "raw UPDATE": "bench_raw.guards"}

    def expected_tps(contender, clients, sync):
        # the last run of this contender and setting, else the claim of new keys
        for row in reversed(results["runs"]):
            if (row["workload"] == W4 and row["contender"] == contender.name
                    and row["clients"] == clients and row["sync"] == sync):
                return row["tps"]
        for row in reversed(results["runs"]):
            if (row["workload"] == W1 and row["contender"] == "claim_guard()"
                    and row["clients"] == clients and row["sync"] == sync):
                return row["tps"] * 1.5
        return 25_000

    def before(contender, clients, sync, round_number, run_id):
        # a fresh table holding just this run's pending guards, pre-claimed
        pool = max(2000, math.ceil(2.5 * expected_tps(contender, clients, sync) * SECONDS / clients))
        table = tables[contender.name]
        psql(f"TRUNCATE {table};")
        for client in range(clients):
            first = run_id * 10**12 + client * 10**9 + 1
            load_guards(table, first, first + pool - 1, "pending", "1 day")
        psql(f"VACUUM ANALYZE {table};")
        return {"run": run_id, "pool": pool, "n": 0}

    interleave(W4, lambda sync: [Contender("record_outcome()", "record_outcome.sql"),
                                 Contender("raw UPDATE", "raw_update.sql", baseline=True)], before=before)
    reset_tables()


def workload_batch_outcomes():
    """12. A queue consumer's batch of 100 outcomes: record_outcomes() against
    one record_outcome() per key in one statement and the raw UPDATE ... ANY.
    Every client walks its own pre-claimed pending guards, 100 a transaction,
    loaded fresh before each run as workload 4 does."""
    name = "12. batch outcomes, 100 keys a call (keys/s)"
    clients_list = [int(c) for c in env_words("BENCH_OUTCOMES_CLIENTS", "4")]
    keys = 100
    tables = {"record_outcomes()": "idempotency.guards",
              "record_outcome() per key, one statement": "idempotency.guards",
              "raw UPDATE ... ANY": "bench_raw.guards"}
    log(f"workload {name}")

    def expected_calls(contender, clients):
        # calls/s of the last run of this contender, else a guess on the high side
        for row in reversed(results["runs"]):
            if (row["workload"] == name and row["contender"] == contender.name
                    and row["clients"] == clients):
                return row["tps"] / keys
        return 1000

    def before(contender, clients, sync, round_number, run_id):
        # a fresh table holding just this run's pending guards, `pool` batches a client
        pool = max(200, math.ceil(2.5 * expected_calls(contender, clients) * SECONDS / clients))
        table = tables[contender.name]
        psql(f"TRUNCATE {table};")
        for client in range(clients):
            first = run_id * 10**12 + client * 10**9 + 1
            load_guards(table, first, first + pool * keys - 1, "pending", "1 day")
        psql(f"VACUUM ANALYZE {table};")
        return {"run": run_id, "pool": pool, "n": 0}

    interleave(name, lambda sync: [
        Contender("record_outcomes()", "record_outcomes_100.sql", keys_per_call=keys),
        Contender("record_outcome() per key, one statement", "record_outcome_each_100.sql",
                  keys_per_call=keys),
        Contender("raw UPDATE ... ANY", "raw_update_batch_100.sql", baseline=True,
                  keys_per_call=keys)],
        clients_list=clients_list, syncs=["off"], before=before)
    reset_tables()


def workload_scale():
    log(f"workload {W6}: {human(SCALE_SMALL_ROWS)} vs {human(SCALE_ROWS)} live guards")
    small, large = "bench_small", "bench_large"
    for db in (small, large):
        setup_database(db)
    load_guards("idempotency.guards", 1, SCALE_SMALL_ROWS, "succeeded", "30 days", small)
    started = time.perf_counter()
    batch = 1_000_000
    for first in range(1, SCALE_ROWS + 1, batch):
        last = min(SCALE_ROWS, first + batch - 1)
        load_guards("idempotency.guards", first, last, "succeeded", "30 days", large)
        log(f"  loaded {human(last)} of {human(SCALE_ROWS)} rows")
    load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for db in (small, large):
        psql("VACUUM ANALYZE idempotency.guards;", db)
    vacuum_seconds = time.perf_counter() - started
    size = psql("SELECT pg_size_pretty(pg_total_relation_size('idempotency.guards'));", large)
    results["extra"]["scale"] = {"small_rows": SCALE_SMALL_ROWS, "large_rows": SCALE_ROWS,
                                 "load_seconds": round(load_seconds, 1),
                                 "vacuum_seconds": round(vacuum_seconds, 1),
                                 "large_total_size": size}
    log(f"  loaded {human(SCALE_ROWS)} rows in {load_seconds:.0f} s "
        f"({SCALE_ROWS / load_seconds:.0f} rows/s), VACUUM ANALYZE {vacuum_seconds:.0f} s, {size}")

    def label(rows):
        return f"{human(rows)} rows"

    def cleanup_claims(contender, clients, sync, round_number, run_id):
        # new claims expire in 1 day, the pre-loaded guards in 30: drop the
        # previous claim run's guards so the small table stays small
        for db in (small, large):
            psql("DELETE FROM idempotency.guards WHERE expires_at < now() + interval '7 days';"
                 " VACUUM idempotency.guards;", db)
        return {}

    interleave(W6, lambda sync: [
        Contender(f"claim_guard(), {label(SCALE_SMALL_ROWS)}", "claim_guard_new.sql", db=small,
                  baseline=True, group="scale: claim"),
        Contender(f"claim_guard(), {label(SCALE_ROWS)}", "claim_guard_new.sql", db=large,
                  group="scale: claim")],
        clients_list=SCALE_CLIENTS, syncs=[SCALE_SYNC], before=cleanup_claims)
    cleanup_claims(None, 0, "", 0, 0)
    interleave(W6, lambda sync: [
        Contender(f"lookup(), {label(SCALE_SMALL_ROWS)}", "lookup.sql", db=small,
                  variables={"rows": SCALE_SMALL_ROWS}, baseline=True, group="scale: lookup"),
        Contender(f"lookup(), {label(SCALE_ROWS)}", "lookup.sql", db=large,
                  variables={"rows": SCALE_ROWS}, group="scale: lookup")],
        clients_list=SCALE_CLIENTS, syncs=[SCALE_SYNC])
    for db in (small, large):
        psql(f"DROP DATABASE {db};")


def set_purge_interval(value):
    """Sets idempotency.purge_interval and reloads; returns the moment of the
    reload (time.perf_counter())."""
    psql(f"ALTER SYSTEM SET idempotency.purge_interval = '{value}';")
    started = time.perf_counter()
    psql("SELECT pg_reload_conf();")
    return started


def purge_deleted_total():
    return int(psql("SELECT total_deleted FROM idempotency.worker_status()"
                    " WHERE database = 'postgres';") or 0)


class PurgeWaiter(threading.Thread):
    """Waits until the worker has deleted `target` guards in total
    (worker_status().total_deleted, updated after every batch) and keeps the
    seconds since `since`. It polls every 20 ms, each poll a short transaction
    of its own: a statement that stayed open (a sleeping PL/pgSQL loop, say)
    would hold back the xmin horizon, and with it the purge, whose batches
    would then re-read every guard already deleted (see bench/README.md)."""

    def __init__(self, target, since, timeout=600.0):
        super().__init__(daemon=True)
        self.target, self.since, self.timeout = target, since, timeout
        self.seconds, self.error = None, None
        self.start()

    def run(self):
        try:
            import psycopg
            with psycopg.connect(host=HOST, port=PORT, user="postgres", dbname="postgres",
                                 autocommit=True) as connection:
                while True:
                    deleted = connection.execute(
                        "SELECT total_deleted FROM idempotency.worker_status()"
                        " WHERE database = 'postgres'").fetchone()[0] or 0
                    elapsed = time.perf_counter() - self.since
                    if deleted >= self.target:
                        self.seconds = elapsed
                        return
                    if elapsed > self.timeout:
                        raise RuntimeError(f"the purge worker deleted {deleted} of {self.target}"
                                           f" guards in {self.timeout} s")
                    time.sleep(0.02)
        except Exception as error:  # reported by finish()
            self.error = error

    def finish(self):
        self.join()
        if self.error:
            raise RuntimeError(f"waiting for the purge worker failed: {self.error}")
        return self.seconds


def load_expired(table="idempotency.guards"):
    psql(f"TRUNCATE {table};")
    load_guards(table, 1, PURGE_ROWS, "succeeded", "-2 days")
    psql(f"VACUUM ANALYZE {table};")
    checkpoint()


def raw_purges(extra):
    """The purge statement by hand on bench_raw.guards, to tell the cost of the
    statement from the extension's: as is (FOR UPDATE SKIP LOCKED), without
    the row locks, and one plain DELETE."""
    variants = [
        ("raw batched DELETE, FOR UPDATE SKIP LOCKED (the extension's statement)",
         "SELECT bench_raw.purge_raw(10000, true);"),
        ("raw batched DELETE without FOR UPDATE SKIP LOCKED",
         "SELECT bench_raw.purge_raw(10000, false);"),
        ("raw single DELETE WHERE expires_at <= now()",
         "DELETE FROM bench_raw.guards WHERE expires_at <= now();"),
    ]
    for name, sql in variants:
        load_expired("bench_raw.guards")
        _, times = psql(sql, timing=True)
        rate = PURGE_ROWS / (times[-1] / 1000.0)
        extra.setdefault("raw", {})[name] = rate
        log(f"  {name}: {times[-1] / 1000.0:.2f} s = {rate:.0f} guards/s")
        results["runs"].append({"workload": W7, "contender": name, "clients": 1, "sync": "on",
                                "round": 1, "tps": rate, "unit": "guards/s",
                                "group": "purge: rate", "baseline": False})
    psql("TRUNCATE bench_raw.guards;")


def workload_purge():
    log(f"workload {W7}: {human(PURGE_ROWS)} expired guards")
    set_purge_interval("0")  # paused: nothing deletes behind the benchmark's back
    time.sleep(0.5)
    extra = results["extra"].setdefault("purge", {"rows": PURGE_ROWS})

    # purge_expired() by hand: one call, the caller's transaction
    load_expired()
    lines, times = psql("SELECT idempotency.purge_expired();", timing=True)
    deleted, seconds = int(lines[-1]), times[-1] / 1000.0
    extra["manual_seconds"] = round(seconds, 2)
    extra["manual_rate"] = deleted / seconds
    log(f"  purge_expired(): {deleted} guards in {seconds:.2f} s = {deleted / seconds:.0f} guards/s")
    results["runs"].append({"workload": W7, "contender": "purge_expired() by hand",
                            "clients": 1, "sync": "on", "round": 1, "tps": deleted / seconds,
                            "unit": "guards/s", "group": "purge: rate", "baseline": False})

    # the worker: from enabling it (reload) until it has deleted them all
    load_expired()
    before = purge_deleted_total()
    since = set_purge_interval("100ms")
    seconds = PurgeWaiter(before + PURGE_ROWS, since).finish()
    set_purge_interval("0")
    extra["worker_seconds"] = round(seconds, 2)
    extra["worker_rate"] = PURGE_ROWS / seconds
    log(f"  purge worker: {PURGE_ROWS} guards in {seconds:.2f} s = {PURGE_ROWS / seconds:.0f} guards/s")
    results["runs"].append({"workload": W7, "contender": "purge worker", "clients": 1,
                            "sync": "on", "round": 1, "tps": PURGE_ROWS / seconds,
                            "unit": "guards/s", "group": "purge: rate", "baseline": False})
    if PURGE_RAW:
        raw_purges(extra)
    report.save_json(results, RESULTS / "latest.json")

    # claims (new keys) while the worker purges, against claims with the same
    # expired guards in the table and the worker paused: baseline, purge,
    # baseline, ... (the table is re-loaded before each run)
    claim = Contender("claim_guard()", "claim_guard_new.sql")
    under_load = []
    for index in range(2 * ROUNDS - 1 if ROUNDS > 1 else 3):
        purging = index % 2 == 1
        load_expired()
        if purging:
            before = purge_deleted_total()
            since = set_purge_interval("100ms")
            waiter = PurgeWaiter(before + PURGE_ROWS, since)
        measured = pgbench(claim.script, PURGE_CLIENTS, PURGE_SYNC, tag=f"purge{index}")
        measured.pop("max_per_client")
        if purging:
            seconds = waiter.finish()
            set_purge_interval("0")
            under_load.append(seconds)
            log(f"  (the worker purged {PURGE_ROWS} guards in {seconds:.2f} s under the claims)")
        name = f"claim_guard() while the worker purges {human(PURGE_ROWS)}" if purging else \
            f"claim_guard(), {human(PURGE_ROWS)} expired, worker paused"
        record(W7, name, PURGE_CLIENTS, PURGE_SYNC, index // 2 + 1, measured,
               baseline=not purging, group="purge: claims")
    extra["worker_seconds_under_claims"] = under_load
    psql("ALTER SYSTEM RESET idempotency.purge_interval; SELECT pg_reload_conf();")
    reset_tables()


# --- main -----------------------------------------------------------------------


def cpu_times():
    """(busy, steal, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq, steal,
            user + nice + system + idle + iowait + irq + softirq + steal)


CPU_AT_START = cpu_times()


def describe_machine():
    meminfo = Path("/proc/meminfo").read_text()
    total_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                   text=True).stdout.split()
    redis_version = next((w[2:] for w in redis_version if w.startswith("v=")), "?")
    settings = {}
    for name in ("shared_buffers", "max_connections", "checkpoint_timeout", "max_wal_size",
                 "wal_level", "fsync", "jit", "idempotency.purge_batch_size"):
        settings[name] = psql(f"SHOW {name};")
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    results["meta"] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "extension": os.environ.get("EXT_DESCRIBE", "?"),
        "nproc": os.cpu_count(),
        "cpu": cpu.group(1) if cpu else "?",
        "memory_gib": round(total_kb / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "postgresql": psql("SELECT version();"),
        "redis": redis_version,
        "settings": settings,
        "loadavg_start": os.getloadavg(),
        "seconds_per_run": SECONDS,
        "rounds": ROUNDS,
        "transport": "TCP 127.0.0.1 for every client (pgbench, redis-benchmark)",
    }


# The workloads in the order they run (11, the Citus one, runs from bench/citus-run).
WORKLOAD_ORDER = [("1", workload_claim_new), ("2", workload_claim_existing),
                  ("3", workload_replay), ("5", workload_lookup), ("13", workload_do_select),
                  ("4", workload_record),
                  ("6", workload_scale), ("7", workload_purge), ("8", workload_batch_claims),
                  ("9", workload_counters), ("10", workload_limits),
                  ("12", workload_batch_outcomes)]
# They share one pre-load of completed guards, made before the first of them.
PRELOADED = {"2", "3", "5", "13"}


def main():
    RESULTS.mkdir(parents=True, exist_ok=True)
    setup_database("postgres")
    setup_portable_database()
    describe_machine()
    log(f"{SECONDS} s per run, {ROUNDS} rounds, clients {CLIENTS}, synchronous_commit {SYNCS}, "
        f"workloads {' '.join(sorted(WORKLOADS))}")
    preloaded = False
    for number, workload in WORKLOAD_ORDER:
        if number not in WORKLOADS:
            continue
        if number in PRELOADED and not preloaded:
            preload_completed()
            preloaded = True
        workload()
    results["meta"]["loadavg_end"] = os.getloadavg()
    busy, steal, total = (b - a for a, b in zip(CPU_AT_START, cpu_times()))
    if total:
        # steal: time the hypervisor gave this VM's CPUs to someone else
        results["meta"]["cpu_busy_percent"] = round(100 * busy / total, 1)
        results["meta"]["cpu_steal_percent"] = round(100 * steal / total, 1)
    started = float(os.environ.get("BENCH_STARTED", "0") or 0)
    if started:
        results["meta"]["total_seconds"] = round(time.time() - started)
    report.save_json(results, RESULTS / "latest.json")
    print(report.write_all(results, RESULTS))
    if not KEEP and LOGS.exists():
        shutil.rmtree(LOGS)


if __name__ == "__main__":
    main()
