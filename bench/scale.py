"""The Celery topology's capacity, and its backfill compared with the days run one by one, for docs/scaling.md.

A window of days (a month by default) goes through Airflow's backfill (REST API) in two steps: generate_data
and train_model (under approval=gate: nobody answers a benchmark's review), then predict, which so scores every
day with the month's last production model whatever order the runs took. It runs on a fresh stack per
topology (`make up EXECUTOR=celery WORKERS=n`, the scheduler's own catchup off): 1 and then 2 workers, each
backfill with up to 10 runs at a time, and the LocalExecutor of `make up` with one run at a time (the days one
by one, in order).

Measured per topology: the wall time from the first backfill's creation to the last run's success, the task
instances that ran and the stage containers among them, the tasks per minute per worker, and how many tasks
each worker ran. Then every file of the window's raw data, training sets, models and predictions is compared
by sha256 with the one-by-one run's, but the three that record MLflow run ids (tests/e2e/test/week.ts names
them). Writes the table between the scale markers of docs/scaling.md; `--json` keeps every number. Python 3.11
standard library only (bench.py's helpers).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import ROOT, BenchError, CgroupPeak, Docker, compose_stack, log, machine, sh  # noqa: E402

BEGIN, END = "<!-- scale:begin -->", "<!-- scale:end -->"
STEPS = (("generate_data", "train_model"), ("predict",))
DOCKER_OPERATOR = "TaskContainerOperator"
# The sequential run the backfills are compared with: the LocalExecutor, one run of each DAG at a time.
ONE_BY_ONE = "one by one"
OUTPUTS = ("raw", "processed", "models", "predictions")
RUN_RECORDS = {"manifest.json", "metrics.json", "MLmodel"}


def days_of(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def wait_for(api, dags: tuple[str, ...], deadline: float) -> dict[str, list[dict]]:
    while True:
        runs = {dag: [r for r in api.runs(dag) if r["run_type"] == "backfill"] for dag in dags}
        failed = [(dag, r["dag_run_id"]) for dag, rs in runs.items() for r in rs if r["state"] == "failed"]
        if failed:
            raise BenchError(f"scale: runs failed: {failed}")
        pending = sum(r["state"] != "success" for rs in runs.values() for r in rs)
        if all(runs.values()) and pending == 0:
            return runs
        if time.monotonic() > deadline:
            raise BenchError(f"scale: {pending} runs of {', '.join(dags)} not done in time")
        time.sleep(5)


def backfill(stack, first: str, last: str, timeout_s: float, max_active_runs: int) -> dict:
    api = stack.api
    t0 = time.monotonic()
    runs: dict[str, list[dict]] = {}
    for dags in STEPS:
        for dag in dags:
            body = {"dag_id": dag, "from_date": f"{first}T00:00:00Z", "to_date": f"{last}T00:00:00Z",
                    "max_active_runs": max_active_runs}
            if dag == "train_model":
                # Unattended: the gate decides every week's version alone (no person answers a benchmark's review).
                body["dag_run_conf"] = {"approval": "gate"}
            api._call("POST", "/api/v2/backfills", body)
        log(f"scale: backfills of {', '.join(dags)} from {first} to {last} created ({max_active_runs} at a time)")
        runs |= wait_for(api, dags, t0 + timeout_s)
    wall = time.monotonic() - t0
    tis = [ti for dag, rs in runs.items() for r in rs for ti in api.task_instances(dag, r["dag_run_id"])]
    ran = [ti for ti in tis if ti["state"] == "success"]
    containers = [ti for ti in ran if ti.get("operator") == DOCKER_OPERATOR]
    return {"wall_s": round(wall, 1), "runs": {dag: len(rs) for dag, rs in runs.items()}, "tasks": len(ran),
            "containers": len(containers), "per_host": dict(Counter(ti.get("hostname") or "?" for ti in ran))}


def fingerprints(stack, image: str) -> dict[str, str]:
    """sha256 of every output file by path, as the task containers see /data, but the MLflow run records."""
    script = f"cd /data && find {' '.join(OUTPUTS)} -type f -print0 | sort -z | xargs -0 -r sha256sum"
    out = sh("docker", "run", "--rm", "--pull", "never", "-v", f"{stack.data_mount}:/data:ro", "--entrypoint", "sh",
             image, "-c", script)
    sums = {}
    for line in out.splitlines():
        digest, path = line.split("  ", 1)
        if path.rsplit("/", 1)[-1] not in RUN_RECORDS:
            sums[path] = digest
    return sums


def compare(sums: dict[str, str], reference: dict[str, str]) -> dict:
    differ = sorted(p for p in sums.keys() & reference.keys() if sums[p] != reference[p])
    return {"files": len(sums), "differ": differ, "only_here": sorted(sums.keys() - reference.keys()),
            "only_there": sorted(reference.keys() - sums.keys())}


def identical(c: dict) -> bool:
    return not (c["differ"] or c["only_here"] or c["only_there"])


def same_text(c: dict) -> str:
    if identical(c):
        return f"all {c['files']} the same"
    parts = [f"{len(c[k])} {what}" for k, what in (("differ", "differ"), ("only_here", "only here"),
                                                   ("only_there", "missing")) if c[k]]
    return f"**{', '.join(parts)}** of {c['files']}"


def table(res: dict) -> str:
    m = res["machine"]
    lines = [f"Measured {res['date']} on {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Docker {m['docker']} "
             f"(load {m['load_start']} at the start), {res['rows']} rows a day, days {res['window'][0]} to {res['window'][1]}:",
             "", "| topology | runs at a time | runs | tasks | stage containers | wall time | tasks/min | tasks/min per worker "
             "| tasks per worker | files vs one by one |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for name, r in res["topologies"].items():
        minutes = r["wall_s"] / 60
        workers = max(1, r["workers"])
        per_host = ", ".join(str(v) for v in sorted(r["per_host"].values(), reverse=True))
        label = "LocalExecutor" if r["workers"] == 0 else f"{r['workers']} Celery worker{'s' * (r['workers'] > 1)}"
        same = "the reference" if name == ONE_BY_ONE else same_text(r["compared"])
        lines.append(f"| {label} | {r['max_active_runs']} | {sum(r['runs'].values())} | {r['tasks']} | {r['containers']} "
                     f"| {minutes:.1f} min | {r['tasks'] / minutes:.1f} | {r['tasks'] / minutes / workers:.1f} "
                     f"| {per_host} | {same} |")
    return "\n".join(lines)


def write_doc(path: Path, body: str) -> None:
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise BenchError(f"{path}: no {BEGIN} ... {END} markers to write between")
    head, rest = text.split(BEGIN, 1)
    path.write_text(f"{head}{BEGIN}\n{body}\n{END}{rest.split(END, 1)[1]}")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prefix", default=os.environ.get("IMAGE_PREFIX", "airflow-ml-dags"))
    ap.add_argument("--version", default=(ROOT / "VERSION").read_text().strip())
    ap.add_argument("--workers", default="1,2", help="Celery worker counts to measure, comma-separated")
    ap.add_argument("--first", default="2026-10-01", help="the window's first day")
    ap.add_argument("--last", default="2026-10-31", help="the window's last day")
    ap.add_argument("--rows", type=int, default=5000, help="GENERATE_ROWS")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds to wait for one topology's window")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/scaling.md")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    image = f"{args.prefix}/generate:{args.version}"
    docker = Docker(CgroupPeak(), cleanup_image=image)
    res = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(CgroupPeak()),
           "rows": args.rows, "window": [args.first, args.last], "days": len(days_of(args.first, args.last)),
           "topologies": {}}
    overrides = {"PIPELINE_CATCHUP": "false", "GENERATE_ROWS": str(args.rows), "SENSOR_POKE_INTERVAL_SECONDS": "10"}
    legs = [(ONE_BY_ONE, 0, 1), *((f"{n} workers", n, 10) for n in (int(w) for w in args.workers.split(",")))]
    reference: dict[str, str] = {}
    try:
        for name, workers, at_a_time in legs:
            with compose_stack(args.prefix, args.version, docker, (args.first, args.last), overrides, workers=workers) as stack:
                r = backfill(stack, args.first, args.last, args.timeout, at_a_time)
                sums = fingerprints(stack, image)
            r |= {"workers": workers, "max_active_runs": at_a_time}
            if name == ONE_BY_ONE:
                reference = sums
                r["files"] = len(sums)
            else:
                r["compared"] = compare(sums, reference)
            res["topologies"][name] = r
            log(f"scale: {name}: {r}")
    except BenchError as err:
        print(f"scale: {err}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    write_doc(args.out, table(res))
    log(f"wrote {args.out}")
    return 0 if all(identical(r["compared"]) for r in res["topologies"].values() if "compared" in r) else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
