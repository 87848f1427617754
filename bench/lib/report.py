#!/usr/bin/env python3
"""Turns bench/results/latest.json into latest.md (the tables), latest.csv and
latest.png. Run by bench.py at the end of `make bench`; also by hand:
python3 bench/lib/report.py [results dir]."""

import csv
import json
import math
import statistics
import sys
from pathlib import Path

TARGET_NOTE = {
    "met": "met",
    "missed": "**missed**",
    "n/a": "not measured",
    "reported": "reported (no target)",
}


def save_json(results, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=str) + "\n")
    tmp.replace(path)


def median(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else None


def aggregate(results):
    """One row per (workload, group, contender, clients, sync): medians over
    the rounds, and the ratio of the median TPS to the group's baseline."""
    rows, order = {}, []
    for run in results["runs"]:
        key = (run["workload"], run.get("group") or run["workload"], run["contender"],
               run["clients"], run["sync"])
        if key not in rows:
            rows[key] = {"workload": run["workload"], "group": key[1],
                         "contender": run["contender"], "clients": run["clients"],
                         "sync": run["sync"], "baseline": run.get("baseline", False),
                         "unit": run.get("unit", "tps"), "runs": [], "notes": set()}
            order.append(key)
        rows[key]["runs"].append(run)
        if run.get("note"):
            rows[key]["notes"].add(run["note"])
    table = []
    # workloads in their numbered order, contenders in the order they ran
    order.sort(key=lambda key: int(key[0].split(".")[0]) if key[0].split(".")[0].isdigit() else 99)
    for key in order:
        row = rows[key]
        runs = row.pop("runs")
        row["rounds"] = len(runs)
        row["tps"] = median([r["tps"] for r in runs])
        row["p50_ms"] = median([r.get("p50_ms") for r in runs])
        row["p99_ms"] = median([r.get("p99_ms") for r in runs])
        row["tps_rounds"] = [r["tps"] for r in runs]
        row["notes"] = "; ".join(sorted(row["notes"]))
        table.append(row)
    # The ratio pairs each round with its baseline's run of the same round
    # (seconds apart, so a burst of load elsewhere on the machine hits both),
    # and reports the median of those ratios. For the claims during a purge,
    # each purge run is compared with the mean of the baseline runs around it.
    baselines = {(r["workload"], r["group"], r["clients"], r["sync"]): r
                 for r in table if r["baseline"]}
    base_runs = {}
    for run in results["runs"]:
        if run.get("baseline"):
            key = (run["workload"], run.get("group") or run["workload"], run["clients"],
                   run["sync"])
            base_runs.setdefault(key, {})[run["round"]] = run["tps"]
    for row in table:
        key = (row["workload"], row["group"], row["clients"], row["sync"])
        base = baselines.get(key)
        row["baseline_name"] = base["contender"] if base else ""
        row["ratio"] = None
        if not base or row["baseline"]:
            row["ratio"] = 1.0 if row["baseline"] else None
            continue
        by_round = base_runs.get(key, {})
        ratios = []
        for run in [r for r in results["runs"]
                    if (r["workload"], r.get("group") or r["workload"], r["contender"],
                        r["clients"], r["sync"]) == (row["workload"], row["group"],
                                                     row["contender"], row["clients"],
                                                     row["sync"])]:
            rounds = [run["round"], run["round"] + 1] if row["group"] == "purge: claims" \
                else [run["round"]]
            values = [by_round[r] for r in rounds if r in by_round]
            if values and run["tps"]:
                ratios.append(run["tps"] / (sum(values) / len(values)))
        row["ratio"] = median(ratios)
    return table


def find(table, workload_prefix, contender_prefix, clients=None, sync=None):
    for row in table:
        if (row["workload"].startswith(workload_prefix)
                and row["contender"].startswith(contender_prefix)
                and (clients is None or row["clients"] == clients)
                and (sync is None or row["sync"] == sync)):
            return row
    return None


def paired(results, workload_prefix, a_name, b_name, clients, sync, field="tps"):
    """Median over rounds of run(a).field / run(b).field, same round."""
    def runs(name):
        return {r["round"]: r.get(field) for r in results["runs"]
                if r["workload"].startswith(workload_prefix) and r["contender"] == name
                and r["clients"] == clients and (sync is None or r["sync"] == sync)}
    a, b = runs(a_name), runs(b_name)
    return median([a[k] / b[k] for k in a if k in b and a[k] and b[k]])


def targets(results, table):
    """The targets of the issue: (target, measured, value, threshold, status)."""
    out = []

    def add(name, value, threshold, higher_is_better, detail):
        if value is None:
            out.append({"target": name, "measured": "not measured", "status": "n/a",
                        "value": None})
            return
        if threshold is None:
            status = "reported"
        elif value >= threshold if higher_is_better else value <= threshold:
            status = "met"
        else:
            status = "missed"
        out.append({"target": name, "measured": detail, "status": status, "value": value})

    for workload, label in (("1.", "new keys"), ("2.", "duplicates")):
        row = find(table, workload, "claim_guard()", 8, "off")
        ratio = row["ratio"] if row else None
        add(f"claim_guard ({label}) >= 0.95x raw INSERT ON CONFLICT, 8 clients, "
            "synchronous_commit=off (aim 1.0x)", ratio, 0.95, True,
            f"{ratio:.3f}x" if ratio else "")
    row = find(table, "5.", "lookup()", 8, "off")
    if row and row["ratio"] is not None:
        others = [r["ratio"] for r in table if r["workload"].startswith("5.")
                  and r["contender"] == "lookup()" and r["ratio"] is not None]
        add("lookup >= 0.95x raw PK SELECT (8 clients, synchronous_commit=off; lowest of all "
            "settings in brackets)", row["ratio"], 0.95, True,
            f"{row['ratio']:.3f}x (lowest {min(others):.2f}x)")
    else:
        add("lookup >= 0.95x raw PK SELECT", None, 0.95, True, "")
    claim = find(table, "1.", "claim_guard()", 8, "on")
    redis = find(table, "1.", "Redis SET NX EX, appendfsync always", 8, "on")
    ratio = paired(results, "1.", "claim_guard()", "Redis SET NX EX, appendfsync always", 8,
                   "on") if claim and redis else None
    add("claim_guard >= 1.0x Redis SET NX EX with appendfsync always, 8 clients, "
        "synchronous_commit=on", ratio, 1.0, True,
        f"{ratio:.3f}x ({claim['tps']:.0f} vs {redis['tps']:.0f} tps)" if ratio else "")
    # The batch targets are set at 8 clients; other client counts are reported.
    for clients in sorted({r["clients"] for r in table if r["workload"].startswith("8.")}):
        targeted = clients == 8
        who = f"{clients} client" + ("s" if clients != 1 else "")
        row = find(table, "8.", "claim_guards()", clients, "off")
        ratio = row["ratio"] if row else None
        add(f"claim_guards (100 keys a call) " + (">= 1.5x" if targeted else "vs")
            + f" raw INSERT ... SELECT ON CONFLICT, {who}, synchronous_commit=off", ratio,
            1.5 if targeted else None, True, f"{ratio:.3f}x" if ratio else "")
        for sync, redis_name, threshold in (
                ("on", "Redis SET NX EX pipelined 100, appendfsync always", 1.0),
                ("off", "Redis SET NX EX pipelined 100, no persistence", None)):
            threshold = threshold if targeted else None
            ratio = paired(results, "8.", "claim_guards()", redis_name, clients, sync)
            add(f"claim_guards (100 keys a call) vs {redis_name}, {who}, "
                f"synchronous_commit={sync}" + (f" (target >= {threshold}x)" if threshold
                                                 else ""),
                ratio, threshold, True, f"{ratio:.3f}x" if ratio else "")
    # The portable edition (SQL and PL/pgSQL): against the raw statement (the
    # table's ratio) and against the native edition (paired by round).
    for workload, function, label, raw in (
            ("1.", "claim_guard()", "new keys", "raw INSERT ON CONFLICT"),
            ("2.", "claim_guard()", "duplicates", "raw INSERT ON CONFLICT"),
            ("3.", "claim_or_lookup()", "replays", "raw SELECT"),
            ("5.", "lookup()", "lookups", "raw PK SELECT"),
            ("8.", "claim_guards()", "batch claims, 100 keys a call", "raw INSERT ... SELECT")):
        for row in [r for r in table if r["workload"].startswith(workload)
                    and r["contender"] == f"portable {function}"]:
            setting = (f"{row['clients']} client{'s' if row['clients'] > 1 else ''}, "
                       f"synchronous_commit={row['sync']}")
            single = workload in ("1.", "2.")
            add(f"portable {function} ({label}) " + (">= 0.8x" if single else "vs")
                + f" {raw}, {setting}", row["ratio"], 0.8 if single else None, True,
                f"{row['ratio']:.3f}x" if row["ratio"] else "")
            ratio = paired(results, workload, f"portable {function}", function,
                           row["clients"], row["sync"])
            add(f"portable {function} ({label}) vs the native {function}, {setting}",
                ratio, None, True, f"{ratio:.3f}x" if ratio else "")
    # Same-claim comparisons: a feature on against it off (ratio >= threshold).
    for prefix, contender, label, threshold in (
            ("9.", "claim_guard(), counters on", "claim_guard with counters on >= 0.97x counters off",
             0.97),
            ("10.", "claim_guard(), limited scope",
             "claim_guard in a limited scope >= 0.95x an unlimited one", 0.95)):
        for clients in sorted({r["clients"] for r in table
                               if r["workload"].startswith(prefix)}) or [8]:
            row = find(table, prefix, contender, clients, "off")
            ratio = row["ratio"] if row else None
            add(f"{label}, {clients} client{'s' if clients > 1 else ''}, "
                "synchronous_commit=off", ratio, threshold, True,
                f"{ratio:.3f}x" if ratio else "")
    # PostgreSQL 19's get-or-create statement, where workload 13 ran.
    for row in (r for r in table if r["workload"].startswith("13.") and not r["baseline"]):
        add(f"claim_or_lookup >= 1.0x raw INSERT ... ON CONFLICT DO SELECT ({row['group']}, "
            f"{row['clients']} clients, synchronous_commit={row['sync']})", row["ratio"], 1.0,
            True, f"{row['ratio']:.3f}x" if row["ratio"] else "")
    scale = results.get("extra", {}).get("scale", {})
    clients_seen = sorted({r["clients"] for r in table if r["group"] == "scale: claim"})
    for clients in clients_seen:
        rows = [r for r in table if r["group"] == "scale: claim" and r["clients"] == clients]
        small = next((r for r in rows if r["baseline"]), None)
        large = next((r for r in rows if not r["baseline"]), None)
        ratio = paired(results, "6.", large["contender"], small["contender"], clients, None,
                       "p99_ms") if small and large else None
        add(f"p99 claim latency, {human(scale.get('large_rows'))} rows <= 1.5x "
            f"{human(scale.get('small_rows'))} rows ({clients} client{'s' if clients > 1 else ''}, "
            f"synchronous_commit={rows[0]['sync']})", ratio, 1.5, False,
            f"{ratio:.3f}x ({large['p99_ms']:.3f} vs {small['p99_ms']:.3f} ms)" if ratio else "")
    if not clients_seen:
        add("p99 claim latency, 10M rows <= 1.5x 10k rows", None, 1.5, False, "")
    purge = results.get("extra", {}).get("purge", {})
    for key, label in (("manual_rate", "purge_expired()"), ("worker_rate", "purge worker")):
        rate = purge.get(key)
        add(f"purge >= 200k guards/s ({label}, {human(purge.get('rows'))} expired guards)", rate,
            200_000, True, f"{rate:,.0f} guards/s" if rate else "")
    row = next((r for r in table if r["group"] == "purge: claims" and not r["baseline"]), None)
    ratio = row["ratio"] if row else None
    add(f"claims during a purge >= 0.8x claims without ({row['clients'] if row else 8} clients, "
        f"new keys, synchronous_commit={row['sync'] if row else 'off'})", ratio, 0.8, True,
        f"{ratio:.3f}x" if ratio else "")
    return out


def human(n):
    if n is None:
        return "?"
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if n >= size and n % (size // 10 or 1) == 0:
            return f"{n / size:g}{suffix}"
    return str(n)


def fmt(value, digits):
    return "" if value is None else f"{value:,.{digits}f}"


def markdown(results, table, target_rows):
    meta = results.get("meta", {})
    lines = []
    if meta:
        settings = meta.get("settings", {})
        lines += [
            f"Run of {meta.get('date', '?')}; extension {meta.get('extension', '?')}; "
            f"{meta.get('nproc', '?')} cores ({meta.get('cpu', '?')}), "
            f"{meta.get('memory_gib', '?')} GiB; {meta.get('postgresql', '?').split(' on ')[0]}; "
            f"Redis {meta.get('redis', '?')}; "
            + ", ".join(f"{k} = {v}" for k, v in settings.items())
            + f"; {meta.get('seconds_per_run', '?')} s per run, median of "
            f"{meta.get('rounds', '?')} interleaved rounds; load average "
            f"{' / '.join(f'{x:.1f}' for x in meta.get('loadavg_start', []))} at the start"
            + (f"; CPU steal (time the hypervisor gave to other VMs) {meta['cpu_steal_percent']}%"
               if "cpu_steal_percent" in meta else "")
            + (f", {meta['total_seconds'] // 60} min {meta['total_seconds'] % 60} s in all"
               if meta.get("total_seconds") else "") + ".",
            "",
        ]
    lines += ["| workload | contender | clients | synchronous_commit | TPS | p50 ms | p99 ms "
              "| ratio to baseline |",
              "|---|---|--:|---|--:|--:|--:|--:|"]
    for row in table:
        tps = fmt(row["tps"], 0) + (" guards/s" if row["unit"] != "tps" else "")
        if row["baseline"]:
            ratio = "1.00 (baseline)"
        elif row["ratio"] is not None:
            ratio = f"{row['ratio']:.2f}"
        else:
            ratio = ""
        contender = row["contender"] + (f" ({row['notes']})" if row["notes"] else "")
        clients = "" if row["unit"] != "tps" else str(row["clients"])
        sync = row["sync"]
        if row["contender"].startswith("Redis"):
            sync += " (Redis: none)" if "no persistence" in row["contender"] else \
                " (Redis: fsync)"
        lines.append(f"| {row['workload']} | {contender} | {clients} | {sync} | {tps} | "
                     f"{fmt(row['p50_ms'], 3)} | {fmt(row['p99_ms'], 3)} | {ratio} |")
    extra = results.get("extra", {})
    notes = []
    scale = extra.get("scale")
    if scale:
        notes.append(f"Workload 6 loaded {scale['large_rows']:,} rows ({scale['large_total_size']} "
                     f"with indexes) in {scale['load_seconds']} s, VACUUM ANALYZE "
                     f"{scale['vacuum_seconds']} s.")
    purge = extra.get("purge")
    if purge and purge.get("worker_seconds_under_claims"):
        under = ", ".join(f"{s:.1f} s" for s in purge["worker_seconds_under_claims"])
        notes.append(f"Workload 7: by hand {purge.get('manual_seconds')} s, worker "
                     f"{purge.get('worker_seconds')} s (from the reload that enables it); "
                     f"under the claims of the run the worker took {under}.")
    if notes:
        lines += [""] + notes
    lines += wait_table(results)
    lines += ["", "| target | measured | status |", "|---|---|---|"]
    for t in target_rows:
        lines.append(f"| {t['target']} | {t['measured']} | {TARGET_NOTE[t['status']]} |")
    return "\n".join(lines) + "\n"


def wait_table(results):
    """Markdown lines: where the backends of each sampled contender were
    (bench.WaitSampler), as shares of all samples over its rounds. States under
    3% everywhere are summed as "other"."""
    totals, order = {}, []
    for run in results["runs"]:
        if "waits" not in run:
            continue
        key = (run["workload"], run["contender"], run["clients"], run["sync"])
        if key not in totals:
            totals[key] = {}
            order.append(key)
        for state, count in run["waits"].items():
            totals[key][state] = totals[key].get(state, 0) + count
    order = [key for key in order if sum(totals[key].values()) > 0]
    shares = {key: {state: count / sum(totals[key].values())
                    for state, count in totals[key].items()} for key in order}
    states = sorted({state for row in shares.values() for state, share in row.items()
                     if share >= 0.03},
                    key=lambda state: -max(row.get(state, 0) for row in shares.values()))
    if not states:
        return []
    lines = ["", "Where the backends were during each run (pg_stat_activity sampled every 50 ms; "
             "share of samples over the rounds):", "",
             "| workload | contender | clients | synchronous_commit | "
             + " | ".join(states) + " | other | samples |",
             "|---|---|--:|---|" + "--:|" * (len(states) + 2)]
    for key in order:
        row = shares[key]
        other = 1.0 - sum(row.get(state, 0) for state in states)
        cells = [f"{100 * row.get(state, 0):.0f}%" for state in states]
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | " + " | ".join(cells)
                     + f" | {100 * other:.0f}% | {sum(totals[key].values())} |")
    return lines


def write_csv(table, path):
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["workload", "contender", "clients", "synchronous_commit", "tps",
                         "p50_ms", "p99_ms", "ratio_to_baseline", "baseline", "rounds",
                         "tps_per_round", "unit", "note"])
        for row in table:
            writer.writerow([
                row["workload"], row["contender"], row["clients"], row["sync"],
                fmt(row["tps"], 1).replace(",", ""),
                "" if row["p50_ms"] is None else f"{row['p50_ms']:.3f}",
                "" if row["p99_ms"] is None else f"{row['p99_ms']:.3f}",
                "" if row["ratio"] is None else f"{row['ratio']:.3f}",
                row["baseline_name"], row["rounds"],
                " ".join(f"{t:.0f}" for t in row["tps_rounds"]), row["unit"], row["notes"]])


def chart(table, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for row in table:
        if row["unit"] != "tps" or row["workload"].startswith("7."):
            continue
        key = (row["workload"] if not row["group"].startswith("scale") else row["group"],
               row["sync"] if not row["contender"].startswith("Redis") else row["sync"])
        if key not in panels:
            panels.append(key)
    if not panels:
        return
    columns = 2
    rows_n = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows_n, columns, figsize=(12, 3.4 * rows_n), squeeze=False)
    for index, (title, sync) in enumerate(panels):
        axis = axes[index // columns][index % columns]
        lines = {}
        for row in table:
            name = row["workload"] if not row["group"].startswith("scale") else row["group"]
            if name == title and row["sync"] == sync and row["unit"] == "tps":
                lines.setdefault(row["contender"], []).append((row["clients"], row["tps"]))
        for contender, points in lines.items():
            points.sort()
            axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=contender)
        axis.set_title(f"{title}, synchronous_commit={sync}", fontsize=10)
        axis.set_xlabel("clients")
        axis.set_ylabel("transactions/s")
        axis.set_xticks(sorted({p[0] for pts in lines.values() for p in pts}))
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    for index in range(len(panels), rows_n * columns):
        axes[index // columns][index % columns].axis("off")
    figure.suptitle("idempotency: throughput by client count (median of interleaved rounds)")
    figure.tight_layout(rect=(0, 0, 1, 0.975))
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_all(results, directory):
    directory = Path(directory)
    table = aggregate(results)
    target_rows = targets(results, table)
    results["targets"] = target_rows
    text = markdown(results, table, target_rows)
    (directory / "latest.md").write_text(text)
    write_csv(table, directory / "latest.csv")
    chart(table, directory / "latest.png")
    save_json(results, directory / "latest.json")
    return text


if __name__ == "__main__":
    directory = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "results")
    print(write_all(json.loads((directory / "latest.json").read_text()), directory))
