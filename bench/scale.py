"""The Celery topology's capacity, for docs/scaling.md: a window of days (a month by default) of generate_data,
train_model (under approval=gate: nobody answers a benchmark's review) and predict through Airflow's backfill
(REST API), on 1 and then 2 workers, each on a fresh stack (`make up EXECUTOR=celery WORKERS=n`, the scheduler's
own catchup off).

Measured per topology: the wall time from the backfills' creation to the last run's success, the task
instances that ran and the stage containers among them, the tasks per minute per worker, and how many
tasks each worker ran. Writes the table between the scale markers of docs/scaling.md; `--json` keeps every
number. Python 3.11 standard library only (bench.py's helpers).
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

from bench import ROOT, BenchError, CgroupPeak, Docker, compose_stack, log, machine  # noqa: E402

BEGIN, END = "<!-- scale:begin -->", "<!-- scale:end -->"
DAGS = ("generate_data", "train_model", "predict")
DOCKER_OPERATOR = "TaskContainerOperator"


def days_of(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def backfill(stack, first: str, last: str, timeout_s: float) -> dict:
    api = stack.api
    t0 = time.monotonic()
    for dag in DAGS:
        body = {"dag_id": dag, "from_date": f"{first}T00:00:00Z", "to_date": f"{last}T00:00:00Z", "max_active_runs": 10}
        if dag == "train_model":
            # Unattended: the gate decides every week's version alone (no person answers a benchmark's review).
            body["dag_run_conf"] = {"approval": "gate"}
        api._call("POST", "/api/v2/backfills", body)
    log(f"scale: backfills of {', '.join(DAGS)} from {first} to {last} created")
    while True:
        runs = {dag: [r for r in api.runs(dag) if r["run_type"] == "backfill"] for dag in DAGS}
        failed = [(dag, r["dag_run_id"]) for dag, rs in runs.items() for r in rs if r["state"] == "failed"]
        if failed:
            raise BenchError(f"scale: runs failed: {failed}")
        pending = sum(r["state"] != "success" for rs in runs.values() for r in rs)
        if all(runs.values()) and pending == 0:
            break
        if time.monotonic() - t0 > timeout_s:
            raise BenchError(f"scale: {pending} runs not done after {timeout_s:.0f}s")
        time.sleep(5)
    wall = time.monotonic() - t0
    tis = [ti for dag, rs in runs.items() for r in rs for ti in api.task_instances(dag, r["dag_run_id"])]
    ran = [ti for ti in tis if ti["state"] == "success"]
    containers = [ti for ti in ran if ti.get("operator") == DOCKER_OPERATOR]
    return {"wall_s": round(wall, 1), "runs": {dag: len(rs) for dag, rs in runs.items()}, "tasks": len(ran),
            "containers": len(containers), "per_host": dict(Counter(ti.get("hostname") or "?" for ti in ran))}


def table(res: dict) -> str:
    m = res["machine"]
    lines = [f"Measured {res['date']} on {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Docker {m['docker']} "
             f"(load {m['load_start']} at the start), {res['rows']} rows a day, days {res['window'][0]} to {res['window'][1]}:",
             "", "| workers | runs | tasks | stage containers | wall time | tasks/min | tasks/min per worker | tasks per worker |",
             "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for n, r in sorted(res["topologies"].items(), key=lambda kv: int(kv[0])):
        minutes = r["wall_s"] / 60
        per_host = ", ".join(str(v) for v in sorted(r["per_host"].values(), reverse=True))
        lines.append(f"| {n} | {sum(r['runs'].values())} | {r['tasks']} | {r['containers']} | {minutes:.1f} min | "
                     f"{r['tasks'] / minutes:.1f} | {r['tasks'] / minutes / int(n):.1f} | {per_host} |")
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
    ap.add_argument("--workers", default="1,2", help="worker counts to measure, comma-separated")
    ap.add_argument("--first", default="2026-10-01", help="the window's first day")
    ap.add_argument("--last", default="2026-10-31", help="the window's last day")
    ap.add_argument("--rows", type=int, default=5000, help="GENERATE_ROWS")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds to wait for one topology's window")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/scaling.md")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    docker = Docker(CgroupPeak(), cleanup_image=f"{args.prefix}/generate:{args.version}")
    res = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(CgroupPeak()),
           "rows": args.rows, "window": [args.first, args.last], "days": len(days_of(args.first, args.last)),
           "topologies": {}}
    overrides = {"PIPELINE_CATCHUP": "false", "GENERATE_ROWS": str(args.rows), "SENSOR_POKE_INTERVAL_SECONDS": "10"}
    try:
        for n in (int(w) for w in args.workers.split(",")):
            with compose_stack(args.prefix, args.version, docker, (args.first, args.last), overrides, workers=n) as stack:
                res["topologies"][str(n)] = backfill(stack, args.first, args.last, args.timeout)
                log(f"scale: {n} worker(s): {res['topologies'][str(n)]}")
    except BenchError as err:
        print(f"scale: {err}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    write_doc(args.out, table(res))
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
