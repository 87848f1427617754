"""What a dashboard of idempotency.counters shows: mixed client traffic
(claims, retries, outcomes, releases, key reuse, owners that die) runs for a
while against the bench cluster, a sampler reads the counters every second,
and the per-second rates are drawn into a PNG. Part of workload 9."""

import os
import random
import threading
import time

import psycopg

SECONDS = int(os.environ.get("BENCH_PICTURE_SECONDS", "40"))
CLIENTS = 4
KEYS = 3000  # few enough that retries of earlier keys are common

# (legend, panel, columns summed), panel 0: claims, panel 1: the rest.
SERIES = [
    ("claims won", 0, ["claimed_new", "claimed_after_expiry", "claimed_after_lease"]),
    ("retries absorbed (completed)", 0, ["refused_completed"]),
    ("refused: in progress", 0, ["refused_pending"]),
    ("replays served", 0, ["replayed"]),
    ("outcomes: succeeded", 1, ["succeeded"]),
    ("outcomes: failed", 1, ["failed"]),
    ("released", 1, ["released"]),
    ("taken over after the lease", 1, ["claimed_after_lease"]),
    ("IK001 key reused", 1, ["key_reused"]),
    ("purged by the worker", 1, ["purged_by_worker"]),
]
COLUMNS = sorted({column for _, _, columns in SERIES for column in columns})


def client(dsn, seed, stop):
    """One application process: claims a random key of two scopes (one with
    a lease), and then mostly records an outcome; some owners release, some
    die and leave the guard pending, a few reuse a key for another request."""
    rng = random.Random(seed)
    with psycopg.connect(dsn, autocommit=True) as connection:
        while not stop.is_set():
            scope = rng.choice(["checkout", "emails"])
            key = str(rng.randint(1, KEYS))
            fingerprint = "other" if rng.random() < 0.01 else "same"
            lease = "2 seconds" if scope == "emails" else None
            try:
                claimed, token = connection.execute(
                    "SELECT claimed, claim_token FROM idempotency.claim_or_lookup("
                    "%s, %s, ttl => '8 seconds', fingerprint => %s, lease => %s)",
                    (scope, key, fingerprint, lease)).fetchone()
            except psycopg.Error as error:
                if error.sqlstate != "IK001":  # key reused: the client's bug, counted
                    raise
                continue
            if not claimed:
                continue
            fate = rng.random()
            if fate < 0.90:
                connection.execute("SELECT idempotency.record_outcome(%s, %s, 'succeeded', "
                                   "'{\"ok\": true}', %s)", (scope, key, token))
            elif fate < 0.94:
                connection.execute("SELECT idempotency.record_outcome(%s, %s, 'failed', "
                                   "NULL, %s)", (scope, key, token))
            elif fate < 0.97:
                connection.execute("SELECT idempotency.release_guard(%s, %s, %s)",
                                   (scope, key, token))
            # else: the owner died; the guard stays pending


def totals(connection):
    sums = ", ".join(f"sum({column})::bigint" for column in COLUMNS)
    row = connection.execute(f"SELECT {sums} FROM idempotency.counters").fetchone()
    return dict(zip(COLUMNS, row))


def run(host, port, png_path, log):
    dsn = f"host={host} port={port} user=postgres dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("ALTER SYSTEM SET idempotency.purge_interval = '2s'")
        connection.execute("SELECT pg_reload_conf()")
        connection.execute("SELECT idempotency.reset_counters()")
        log(f"counters picture: {CLIENTS} clients of mixed traffic for {SECONDS} s")
        stop = threading.Event()
        clients = [threading.Thread(target=client, args=(dsn, seed, stop))
                   for seed in range(CLIENTS)]
        for thread in clients:
            thread.start()
        samples = []
        started = time.monotonic()
        while time.monotonic() - started < SECONDS:
            samples.append((time.monotonic() - started, totals(connection)))
            time.sleep(1.0)
        stop.set()
        for thread in clients:
            thread.join()
        samples.append((time.monotonic() - started, totals(connection)))
        connection.execute("ALTER SYSTEM RESET idempotency.purge_interval")
        connection.execute("SELECT pg_reload_conf()")
    draw(samples, png_path)
    first, last = samples[0][1], samples[-1][1]
    summary = {"seconds": round(samples[-1][0], 1), "clients": CLIENTS,
               "totals": {column: last[column] - first[column] for column in COLUMNS}}
    log(f"counters picture: {png_path} ({summary['totals']})")
    return summary


def draw(samples, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    times = [(a[0] + b[0]) / 2 for a, b in zip(samples, samples[1:])]
    for legend, panel, columns in SERIES:
        rates = [sum(b[1][c] - a[1][c] for c in columns) / max(b[0] - a[0], 1e-6)
                 for a, b in zip(samples, samples[1:])]
        panels[panel].plot(times, rates, label=legend)
    panels[0].set_title("idempotency.counters during a mixed-traffic run: events per second")
    panels[0].set_ylabel("claims / s")
    panels[1].set_ylabel("events / s")
    panels[1].set_xlabel("seconds")
    for panel in panels:
        panel.legend(loc="upper left", fontsize="small", ncol=2)
        panel.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
