"""`make bench`: the task images side by side with two references, pandas + scikit-learn and polars +
scikit-learn, measured in one run.

1. Stage throughput: for each size, generate → prepare → split → train → validate → predict → monitor with our
   images and with each reference image (bench/reference, bench/reference-polars). Our generate writes the inputs
   once; each reference then works on copies of exactly the files our stages read, so each row compares the same
   work on the same bytes (monitor reads our predictions and our model's profiles on every side). Each stage is one `docker run`, timed
   from the client's side (what a DockerOperator task pays), with the peak memory of its container and the size
   of its image.
2. Task overhead: `--help` of every image (a run that loads the whole program and does nothing) against a bare
   `docker run <node image> node -e 0`.
3. Pipeline latency: the compose stack of `make up` on free ports and a fixed week (7 generate, 1 train, 7
   predict runs), started by the scheduler itself; total wall time and, per task, the delay between the
   scheduler finding it runnable and it starting, from the REST API's task instance times.
4. The idle stack: once the stack has nothing to run (after the week, or with a window of days in the future when
   the week is skipped), each service's memory and CPU from `docker stats`, sampled over about 30 s.

Writes the tables into docs/benchmarks.md between the bench markers (the text around them is kept) and, with
--json, every raw number. Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DS = "2026-11-20"
WEEK = ("2026-11-02", "2026-11-08")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

# The targets of the issues; the benchmark reports them, no test asserts them. Stage times are against the
# fastest reference of the same run, at the largest size.
STAGE_RATIO_TARGETS = {"prepare": 1.0, "split": 1.0, "train": 1.5, "validate": 1.0, "predict": 1.0}
OVERHEAD_RATIO_TARGET = 1.3
WEEK_SECONDS_TARGET = 300
PEAK_INPUT_RATIO_TARGET = 3.0
# An image that holds TensorFlow's libraries (train, validate and predict: the native backend's 437 MB); the
# others are far below it. It replaced the first round's predict ≤ 250 MB, which predicted on pure JavaScript.
TASK_IMAGE_MB_TARGET = 700
IDLE_STACK_GIB_TARGET = 1.5
#: The sides of a stage row: our image first, then the references, each its own image.
REFS = {"pandas": "bench-reference", "polars": "bench-reference-polars"}
SIDES = ("ours", *REFS)


class BenchError(Exception):
    """Ends the run with one line saying what failed."""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*args: str, check: bool = True, env: dict[str, str] | None = None, timeout: float | None = None) -> str:
    r = subprocess.run(args, check=False, capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        detail = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise BenchError(f"{' '.join(args[:4])} … exited {r.returncode}: {detail[0]}")
    return r.stdout


# ---- peak memory from the container's cgroup --------------------------------------------------------------------


class CgroupPeak:
    """Puts each container under a cgroup made for it (`--cgroup-parent`) and reads that cgroup's memory
    high-water mark once the container is gone: exact, where sampling `docker stats` misses short peaks.

    The mark is what the kernel charged to the container: resident memory plus the page cache of the files it
    wrote (cgroup v1 `memory.max_usage_in_bytes`, v2 `memory.peak`). It needs root and Docker's cgroupfs
    driver; otherwise peaks are reported as unknown, with the reason.
    """

    def __init__(self) -> None:
        self.unavailable = ""
        info = sh("docker", "info", "--format", "{{.CgroupDriver}} {{.CgroupVersion}}").split()
        self.driver, self.version = (info + ["?", "?"])[:2]
        self.base = Path("/sys/fs/cgroup/memory") if self.version == "1" else Path("/sys/fs/cgroup")
        self.peak_file = "memory.max_usage_in_bytes" if self.version == "1" else "memory.peak"
        if self.driver != "cgroupfs":
            self.unavailable = f"Docker's cgroup driver is {self.driver}, the harness reads cgroupfs parents"
        elif os.geteuid() != 0:
            self.unavailable = "reading container cgroups needs root"
        elif not self.base.is_dir():
            self.unavailable = f"no {self.base}"
        self.count = 0

    def new_parent(self) -> str | None:
        if self.unavailable:
            return None
        self.count += 1
        name = f"aml-bench-{os.getpid()}-{self.count}"
        (self.base / name).mkdir()
        return name

    def read_and_remove(self, name: str | None) -> int | None:
        if name is None:
            return None
        try:
            peak = int((self.base / name / self.peak_file).read_text())
        except FileNotFoundError:
            self.unavailable = f"this kernel has no {self.peak_file}"
            peak = None
        # Docker makes the parent in every controller it uses; each must go, or cgroups pile up.
        roots = [Path("/sys/fs/cgroup")] if self.version != "1" else list(Path("/sys/fs/cgroup").iterdir())
        for root in roots:
            d = root / name
            if d.is_dir():
                for _ in range(50):
                    try:
                        d.rmdir()
                        break
                    except OSError:
                        time.sleep(0.1)  # the container's own cgroup is removed a moment after it exits
        return peak


# ---- running one container ---------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    peak_bytes: int | None
    result: dict
    #: The last line of stderr when the container exited non-zero.
    error: str | None = None
    #: The container's stderr: the stages' log lines.
    log: str = ""


class Docker:
    def __init__(self, peaks: CgroupPeak, cleanup_image: str) -> None:
        self.peaks = peaks
        # An image with `rm`, for files the containers left that the caller may not delete itself.
        self.cleanup_image = cleanup_image
        # As root the containers keep their images' own users, as in production; otherwise they run as the
        # caller so that the harness can copy files between the two sides' folders.
        self.user = [] if os.geteuid() == 0 else ["--user", f"{os.getuid()}:{os.getgid()}"]

    def run(self, what: str, image: str, args: list[str], data_dir: Path | None = None, check: bool = True) -> Run:
        """One container; a non-zero exit ends the benchmark, or with check=False is returned as the Run's error."""
        parent = self.peaks.new_parent()
        cmd = ["docker", "run", "--rm", *self.user]
        if parent:
            cmd += ["--cgroup-parent", f"/{parent}"]
        if data_dir is not None:
            cmd += ["-v", f"{data_dir}:/data"]
        cmd += [image, *args]
        start = time.perf_counter()
        try:
            r = subprocess.run(cmd, check=False, capture_output=True, text=True)
        finally:
            seconds = time.perf_counter() - start
            peak = self.peaks.read_and_remove(parent)
        if r.returncode != 0:
            error = f"exit {r.returncode}: {failure_line(r.stderr)}"
            if check:
                raise BenchError(f"{what}: {image} {error}")
            return Run(seconds, peak, {}, error, r.stderr)
        lines = r.stdout.strip().splitlines()
        try:
            result = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            result = {}
        return Run(seconds, peak, result if isinstance(result, dict) else {}, log=r.stderr)


def failure_line(stderr: str) -> str:
    """What a failed stage said: its JSON error line's message, or V8's own line when the process died."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if msg.get("level") == "error":
                return str(msg.get("msg"))[:300]
    fatal = next((line for line in lines if "FATAL ERROR" in line or "out of memory" in line.lower()), None)
    return (fatal or (lines[-1] if lines else "no output"))[:300]


# ---- the machine -------------------------------------------------------------------------------------------------


def machine(peaks: CgroupPeak) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        mem = int(m.group(1)) * 1024 if m else 0
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem / 2**30, 1),
        "docker": sh("docker", "version", "--format", "{{.Server.Version}}").strip(),
        "cgroup": f"v{peaks.version} ({peaks.driver})",
        "load_start": round(os.getloadavg()[0], 1),
    }


def image_mb(image: str) -> float:
    return int(sh("docker", "image", "inspect", "--format", "{{.Size}}", image).strip()) / 1e6


# ---- 1. stage throughput -----------------------------------------------------------------------------------------

# Per stage: our image and arguments, the reference's arguments, the files (relative to the data folder) the stage
# reads (copied from our side to the reference's before it runs) and those it writes for the next stages.
STAGES = ("generate", "prepare", "split", "train", "validate", "predict", "monitor")


def stage_plan(rows: int, epochs: int) -> dict[str, dict]:
    raw, processed, model, predictions = f"raw/{DS}", f"processed/{DS}", f"models/{DS}", f"predictions/{DS}"
    return {
        "generate": {"image": "generate", "ours": ["--ds", DS, "--rows", str(rows)],
                     "ref": ["generate", "--ds", DS, "--rows", str(rows)], "inputs": [], "outputs": []},
        "prepare": {"image": "prepare", "ours": ["prepare", "--ds", DS], "ref": ["prepare", "--ds", DS],
                    "inputs": [f"{raw}/data.csv", f"{raw}/target.csv"], "outputs": [f"{processed}/train_data.csv"]},
        "split": {"image": "prepare", "ours": ["split", "--ds", DS], "ref": ["split", "--ds", DS],
                  "inputs": [f"{processed}/train_data.csv"], "outputs": [f"{processed}/train.csv", f"{processed}/val.csv"]},
        "train": {"image": "train", "ours": ["--ds", DS, "--epochs", str(epochs)],
                  "ref": ["train", "--ds", DS, "--epochs", str(epochs)], "inputs": [f"{processed}/train.csv"],
                  "outputs": []},
        "validate": {"image": "validate", "ours": ["validate", "--ds", DS], "ref": ["validate", "--ds", DS],
                     "inputs": [f"{processed}/val.csv"], "outputs": []},
        "predict": {"image": "predict", "ours": ["--ds", DS, "--model", model],
                    "ref": ["predict", "--ds", DS, "--model", model], "inputs": [f"{raw}/data.csv"], "outputs": []},
        # Our predict's files and our model's profiles (the reference's model folder has neither profile.json nor
        # the scores' profile in metrics.json); predict's manifest names the model folder (model_ds = DS).
        "monitor": {"image": "monitor", "ours": ["--ds", DS, "--data-dir", "/data"],
                    "ref": ["monitor", "--ds", DS, "--data-dir", "/data"],
                    "inputs": [f"{predictions}/predictions.csv", f"{predictions}/manifest.json", f"{raw}/target.csv",
                               f"{raw}/data.csv", f"{model}/profile.json", f"{model}/metrics.json"],
                    "outputs": [f"monitoring/{DS}/report.json"]},
    }


def result_rows(stage: str, result: dict) -> int | None:
    """The rows a stage says it processed (both sides' result lines use the same keys)."""
    value = (result.get("metrics") or {}).get("rows") if stage == "validate" else result.get(
        "rows_in" if stage == "prepare" else "rows")
    return value if isinstance(value, int) else None


@dataclass
class StageRow:
    """One stage at one size; each dict is keyed by side (SIDES)."""

    rows: int
    stage: str
    #: Wall time of the side's `docker run`; None when it failed or did not run.
    seconds: dict[str, float | None]
    #: The side's own figure (its result line's `seconds`).
    work_s: dict[str, float | None]
    peak: dict[str, int | None]
    #: Why the side has no time: its error line, or "no input"/"no model" when it could not run.
    error: dict[str, str | None]
    input_bytes: int
    note: str = ""


def copy_inputs(src: Path, dst: Path, files: list[str]) -> None:
    for rel in files:
        target = dst / rel
        if not target.parent.is_dir():
            target.parent.mkdir(parents=True)
            # The stage writes its outputs beside its inputs, as its image's unprivileged user.
            for d in [target.parent, *target.parent.parents]:
                if d == dst:
                    break
                d.chmod(0o777)
        shutil.copyfile(src / rel, target)


def bench_size(docker: Docker, images: dict[str, str], ref_images: dict[str, str], rows: int, epochs: int,
               work: Path) -> list[StageRow]:
    """The seven stages at one size. A stage that fails on one side is recorded as failed, and the next stages
    read another side's output on every side, so that one failure does not hide the rest of the table."""
    dirs = {side: work / f"rows-{rows}" / side for side in SIDES}
    for d in dirs.values():
        d.mkdir(parents=True)
        d.chmod(0o777)  # the containers write as their images' unprivileged users

    def side_image(side: str, plan: dict) -> str:
        return images[plan["image"]] if side == "ours" else ref_images[side]

    trained = dict.fromkeys(SIDES, False)
    out: list[StageRow] = []
    for stage, plan in stage_plan(rows, epochs).items():
        what = f"{stage} at {rows} rows"
        note = ""
        runs: dict[str, Run] = {}
        if stage == "generate":
            for side in SIDES:
                runs[side] = docker.run(f"{side}: {what}", side_image(side, plan), plan["ours" if side == "ours" else "ref"],
                                        dirs[side])
            # From here on every side reads the very bytes our generate wrote.
            for side in REFS:
                shutil.rmtree(dirs[side] / "raw" / DS)
                shutil.copytree(dirs["ours"] / "raw" / DS, dirs[side] / "raw" / DS)
        else:
            source = next((side for side in SIDES if all((dirs[side] / f).is_file() for f in plan["inputs"])), None)
            if source is None:
                none = dict.fromkeys(SIDES)
                out.append(StageRow(rows, stage, none, none, none, dict.fromkeys(SIDES, "no input"), 0))
                continue
            if source != "ours":
                note = f"inputs from the {source} reference's previous stage (ours failed)"
            for side in SIDES:
                if side != source:
                    copy_inputs(dirs[source], dirs[side], plan["inputs"])
            for side in SIDES:
                if stage in ("validate", "predict") and not trained[side]:
                    runs[side] = Run(0.0, None, {}, "no model (train failed)")
                    continue
                # The outputs a failed stage may have left must not feed the next stage.
                for f in plan["outputs"]:
                    (dirs[side] / f).unlink(missing_ok=True)
                runs[side] = docker.run(f"{side}: {what}", side_image(side, plan), plan["ours" if side == "ours" else "ref"],
                                        dirs[side], check=False)
        if stage == "train":
            trained = {side: r.error is None for side, r in runs.items()}
            note = note or f"{epochs} epoch{'s' if epochs != 1 else ''}, MLP 20→32→1"
        if stage == "validate":
            auc = {side: (r.result.get("metrics") or {}).get("roc_auc") for side, r in runs.items()}
            if all(a is not None for a in auc.values()):
                note = note or "ROC AUC " + ", ".join(f"{side} {a:.3f}" for side, a in auc.items())
        if stage == "monitor" and all(r.error is None for r in runs.values()):
            note = note or monitor_note(runs, {side: dirs[side] / plan["outputs"][0] for side in SIDES})
        measured = {side: r.error is None for side, r in runs.items()}
        row = StageRow(
            rows=next((n for n in (result_rows(stage, runs[side].result) for side in SIDES) if n), rows),
            stage=stage,
            seconds={side: r.seconds if measured[side] else None for side, r in runs.items()},
            work_s={side: r.result.get("seconds") for side, r in runs.items()},
            peak={side: r.peak_bytes for side, r in runs.items()},
            error={side: r.error for side, r in runs.items()},
            input_bytes=sum((dirs["ours"] / f).stat().st_size for f in plan["inputs"]),
            note=note,
        )
        shown = ", ".join(f"{side} {r.seconds:.2f}s" if r.error is None else f"{side} failed ({r.error})"
                          for side, r in runs.items())
        log(f"{what}: {shown}")
        out.append(row)
    remove_tree(docker, work / f"rows-{rows}")
    return out


def monitor_note(runs: dict[str, Run], reports: dict[str, Path]) -> str:
    """Every side's largest PSI and ROC AUC, and how far each reference's report.json is from ours: the same
    inputs and the same definitions should give the same numbers, to rounding."""
    parts = []
    best = {side: r.result.get("max_psi") or {} for side, r in runs.items()}
    if all(isinstance(b.get("value"), (int, float)) for b in best.values()):
        parts.append("max PSI " + ", ".join(f"{side} {b['value']:.2g} ({b['feature']})" for side, b in best.items()))
    auc = {side: r.result.get("roc_auc") for side, r in runs.items()}
    if all(isinstance(a, (int, float)) for a in auc.values()):
        parts.append("ROC AUC " + ", ".join(f"{side} {a:.3f}" for side, a in auc.items()))
    for side in REFS:
        try:
            gap = largest_difference(json.loads(reports["ours"].read_text()), json.loads(reports[side].read_text()))
            parts.append(f"{side}'s report.json numbers within {gap:.0e} of ours" if gap
                         else f"{side}'s report.json numbers identical to ours")
        except (OSError, json.JSONDecodeError) as err:
            parts.append(f"{side}'s report.json not compared ({err})")
        except ValueError as err:
            parts.append(f"{side}'s report.json differs: {err}")
    ms = next((line.get("ms") for line in log_records(runs["ours"].log) if line.get("msg") == "report page rendered"), None)
    if isinstance(ms, (int, float)):
        parts.append(f"ours includes {ms / 1000:.2f} s rendering its page's charts (the references write no page)")
    return "; ".join(parts)


def largest_difference(a: object, b: object, where: str = "") -> float:
    """The largest absolute difference between the numbers at the same place of two JSON values; ValueError
    naming the first place where they differ otherwise."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            raise ValueError(f"keys of {where or 'the top'}: {', '.join(sorted(a.keys() ^ b.keys()))}")
        return max((largest_difference(a[k], b[k], f"{where}.{k}") for k in a), default=0.0)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            raise ValueError(f"{where}: {len(a)} vs {len(b)} items")
        return max((largest_difference(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b))), default=0.0)
    numbers = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)]
    if all(numbers):
        return abs(a - b)
    if a != b:
        raise ValueError(f"{where}: {json.dumps(a)} vs {json.dumps(b)}")
    return 0.0


def log_records(stderr: str) -> list[dict]:
    records = []
    for line in stderr.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def remove_tree(docker: Docker, path: Path) -> None:
    try:
        shutil.rmtree(path)
    except PermissionError:
        # Files the containers wrote as their own users: a container may remove them.
        r = subprocess.run(["docker", "run", "--rm", "--user", "0", "-v", f"{path.parent}:/w", "--entrypoint", "rm",
                            docker.cleanup_image, "-rf", f"/w/{path.name}"], check=False, capture_output=True, text=True)
        if r.returncode != 0:
            log(f"could not remove {path}: {failure_line(r.stderr)}")


# ---- 2. task overhead --------------------------------------------------------------------------------------------

BARE = "bare node (node -e 0)"


def bench_overhead(docker: Docker, node_image: str, images: dict[str, str], ref_images: dict[str, str], repeat: int) -> dict:
    subjects = {BARE: (node_image, ["node", "-e", "0"])}
    for stage, image in images.items():
        subjects[stage] = (image, ["--help"])
    for side, image in ref_images.items():
        subjects[f"reference ({side} + scikit-learn)"] = (image, ["--help"])
    times: dict[str, list[float]] = {k: [] for k in subjects}
    # Round-robin, after one warm-up of each: a change of load on the machine hits every subject alike.
    for i in range(repeat + 1):
        for name, (image, args) in subjects.items():
            r = docker.run(f"overhead of {name}", image, args)
            if i > 0:
                times[name].append(r.seconds)
    return {name: {"median": statistics.median(t), "min": min(t), "runs": len(t)} for name, t in times.items()}


# ---- 3. pipeline latency: a week through the compose stack ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_time(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


class Api:
    def __init__(self, url: str, user: str, password: str) -> None:
        self.url, self.user, self.password, self.token, self.at = url, user, password, "", 0.0

    def _call(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
        if auth:
            if time.time() - self.at > 600:  # tokens expire; a long wait logs in again
                self.login()
            req.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                return json.loads(res.read())
        except urllib.error.HTTPError as err:
            raise BenchError(f"Airflow API {method} {path}: HTTP {err.code} {err.read()[:300]!r}") from None

    def login(self) -> None:
        self.at = time.time()
        self.token = self._call("POST", "/auth/token", {"username": self.user, "password": self.password},
                                auth=False)["access_token"]

    def runs(self, dag_id: str) -> list[dict]:
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=logical_date")["dag_runs"]

    def upstream(self, dag_id: str) -> dict[str, list[str]]:
        tasks = self._call("GET", f"/api/v2/dags/{dag_id}/tasks")["tasks"]
        up: dict[str, list[str]] = {t["task_id"]: [] for t in tasks}
        for t in tasks:
            for down in t.get("downstream_task_ids") or []:
                up.setdefault(down, []).append(t["task_id"])
        return up

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        q = urllib.parse.quote(run_id, safe="")
        return self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{q}/taskInstances")["task_instances"]

    def active_runs(self) -> int:
        """Queued or running DAG runs, of every DAG."""
        return self._call("GET", "/api/v2/dags/~/dagRuns?state=queued&state=running&limit=1")["total_entries"]


@dataclass
class Stack:
    """The compose stack of `make up`, up and healthy, on free ports."""

    project: str
    api: Api
    up_s: float
    ready: datetime
    settings: dict[str, str]
    #: What the task containers mount at /data: the data folder, or the Celery topology's named volume.
    data_mount: str = ""


@contextlib.contextmanager
def compose_stack(prefix: str, version: str, docker: Docker, window: tuple[str, str], overrides: dict[str, str],
                  workers: int = 0):
    """`up --wait` with the pipeline's days fixed to `window`; `down -v` and the data removed on the way out.
    With `workers`, the Celery topology of `make up EXECUTOR=celery WORKERS=<workers>`."""
    work = Path(tempfile.mkdtemp(prefix="aml-bench-stack-"))
    work.chmod(0o755)
    data = work / "data"
    data.mkdir()
    data.chmod(0o777)  # task containers write as uid 1000, Airflow reads as uid 50000
    env_file = work / ".env"
    sh("bash", str(ROOT / "compose/make-env.sh"), str(env_file), str(data))
    airflow_port, mlflow_port = free_port(), free_port()
    extra = {"AIRFLOW_PORT": str(airflow_port), "MLFLOW_PORT": str(mlflow_port),
             "PIPELINE_START_DATE": window[0], "PIPELINE_END_DATE": window[1], **overrides}
    with env_file.open("a") as f:
        f.writelines(f"{k}={v}\n" for k, v in extra.items())
    env_vals = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", env_file.read_text(), re.MULTILINE))
    project = f"aml-bench-{os.getpid()}"
    compose_env = {**os.environ, "COMPOSE_PROJECT_NAME": project, "IMAGE_VERSION": version, "IMAGE_PREFIX": prefix,
                   "DOCKER_GID": str(os.stat("/var/run/docker.sock").st_gid)}

    files = ["compose/docker-compose.yml", *(["compose/docker-compose.celery.yml"] if workers else [])]

    def compose(*args: str, timeout: float | None = None) -> str:
        try:
            return sh("docker", "compose", "--project-directory", str(ROOT / "compose"),
                      *itertools.chain.from_iterable(("-f", str(ROOT / f)) for f in files),
                      "--env-file", str(env_file), *args, env=compose_env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"docker compose {args[0]}: no answer after {timeout:.0f}s") from None

    try:
        log(f"stack: starting {project} (Airflow on port {airflow_port}, days {window[0]} to {window[1]})")
        t0 = time.perf_counter()
        compose("up", "-d", "--wait", *(["--scale", f"airflow-worker={workers}"] if workers else []), timeout=900)
        up_s = time.perf_counter() - t0
        ready = datetime.now(UTC)
        api = Api(f"http://127.0.0.1:{airflow_port}", env_vals.get("AIRFLOW_ADMIN_USER", "admin"),
                  env_vals.get("AIRFLOW_ADMIN_PASSWORD", ""))
        api.login()
        log(f"stack: up in {up_s:.0f}s")
        yield Stack(project, api, up_s, ready, extra, f"{project}-data" if workers else str(data))
    finally:
        try:
            # Every profile: down leaves the containers of a profile it is not given.
            compose("--profile", "flower", "--profile", "triggerer", "down", "-v", "--remove-orphans", timeout=300)
        except BenchError as err:
            log(f"stack: compose down: {err}")
        remove_tree(docker, data)
        shutil.rmtree(work, ignore_errors=True)


def bench_week(stack: Stack, timeout_s: float) -> dict:
    api = stack.api
    expected = {"generate_data": 7, "train_model": 1, "predict": 7}
    deadline = time.monotonic() + timeout_s
    runs: dict[str, list[dict]] = {}
    log(f"week: waiting for {expected}")
    while True:
        runs = {dag: api.runs(dag) for dag in expected}
        for dag, rs in runs.items():
            failed = [r for r in rs if r["state"] == "failed"]
            if failed:
                tis = api.task_instances(dag, failed[0]["dag_run_id"])
                states = ", ".join(f"{t['task_id']}={t['state']}" for t in tis)
                raise BenchError(f"week: {dag} run {failed[0]['dag_run_id']} failed ({states})")
        done = {dag: sum(r["state"] == "success" for r in rs) for dag, rs in runs.items()}
        if all(done[d] >= n for d, n in expected.items()):
            break
        if time.monotonic() > deadline:
            raise BenchError(f"week: not done after {timeout_s:.0f}s: successful runs {done}")
        time.sleep(5)
    tis = [dict(ti, dag_id=dag) for dag, rs in runs.items() for r in rs for ti in api.task_instances(dag, r["dag_run_id"])]
    upstream = {dag: api.upstream(dag) for dag in expected}
    return week_summary(runs, tis, upstream, stack.ready, stack.up_s, stack.settings)


# ---- 4. the idle stack ---------------------------------------------------------------------------------------------

# A window of days that has not begun: the scheduler has no run to make (the week part's window otherwise).
IDLE_WINDOW = ("2099-01-01", "2099-01-07")
IDLE_SETTLE_S = 20
IDLE_SAMPLES, IDLE_EVERY_S = 6, 5.0
_UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def mem_bytes(text: str) -> float:
    """`docker stats`' "123.4MiB" as bytes."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", text)
    if not m or m.group(2) not in _UNITS:
        raise BenchError(f"docker stats: cannot read the memory {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def bench_idle(stack: Stack, timeout_s: float) -> dict:
    """Once no DAG run is queued or running (and the stack has settled), each running service's memory (median)
    and CPU (mean) over IDLE_SAMPLES `docker stats` samples IDLE_EVERY_S apart."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < 2:  # two polls in a row with nothing active: a run starting between them is seen
        active = stack.api.active_runs()
        quiet = quiet + 1 if active == 0 else 0
        if time.monotonic() > deadline:
            raise BenchError(f"idle: {active} DAG run(s) still active after {timeout_s:.0f}s")
        time.sleep(5)
    log(f"idle: no DAG run active; settling {IDLE_SETTLE_S}s, then {IDLE_SAMPLES} samples")
    time.sleep(IDLE_SETTLE_S)
    names = dict(line.split("\t", 1) for line in sh(
        "docker", "ps", "--filter", f"label=com.docker.compose.project={stack.project}",
        "--format", '{{.Names}}\t{{.Label "com.docker.compose.service"}}').splitlines() if "\t" in line)
    if not names:
        raise BenchError(f"idle: no running container of {stack.project}")
    mem: dict[str, list[float]] = {svc: [] for svc in names.values()}
    cpu: dict[str, list[float]] = {svc: [] for svc in names.values()}
    for i in range(IDLE_SAMPLES):
        t0 = time.monotonic()
        out = sh("docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}", *names)
        for line in out.splitlines():
            name, cpu_pct, usage = line.split("\t")
            if name in names:
                cpu[names[name]].append(float(cpu_pct.rstrip("%")))
                mem[names[name]].append(mem_bytes(usage.split("/")[0]))
        if i < IDLE_SAMPLES - 1:
            time.sleep(max(0.0, IDLE_EVERY_S - (time.monotonic() - t0)))
    # What a service's memory is spread over: a long-lived worker pool shows here.
    procs = {svc: len(sh("docker", "top", name).strip().splitlines()) - 1 for name, svc in names.items()}
    services = {svc: {"mem_mib": statistics.median(mem[svc]) / 2**20, "cpu_pct": statistics.mean(cpu[svc]),
                      "processes": procs[svc]}
                for svc in sorted(names.values()) if mem[svc]}
    after = "the week done" if stack.settings["PIPELINE_START_DATE"] != IDLE_WINDOW[0] else "a window of days not begun yet"
    return {"after": after,
            "samples": IDLE_SAMPLES, "every_s": IDLE_EVERY_S, "settle_s": IDLE_SETTLE_S, "services": services,
            "total_mib": sum(v["mem_mib"] for v in services.values()),
            "total_cpu_pct": sum(v["cpu_pct"] for v in services.values())}


def median_max(values: list[float]) -> tuple[float | None, float | None]:
    return (statistics.median(values), max(values)) if values else (None, None)


def week_summary(runs: dict[str, list[dict]], tis: list[dict], upstream: dict[str, dict[str, list[str]]],
                 ready: datetime, stack_up_s: float, env: dict) -> dict:
    """Per task, the scheduling delay: from the moment it could run (its upstream tasks' last end, or its run's
    start for a first task) to its start, and how that splits into scheduled → queued → started."""
    all_runs = [r for rs in runs.values() for r in rs]
    first = min(parse_time(r["start_date"]) or ready for r in all_runs)
    last = max(parse_time(r["end_date"]) or ready for r in all_runs)
    run_start = {(dag, r["dag_run_id"]): parse_time(r["start_date"]) for dag, rs in runs.items() for r in rs}
    ends = {(ti["dag_id"], ti["dag_run_id"], ti["task_id"]): parse_time(ti.get("end_date")) for ti in tis}
    per_task: dict[str, dict[str, list[float]]] = {}
    for ti in tis:
        dag, run_id, task = ti["dag_id"], ti["dag_run_id"], ti["task_id"]
        sched, queued = parse_time(ti.get("scheduled_when")), parse_time(ti.get("queued_when"))
        start, end = parse_time(ti.get("start_date")), parse_time(ti.get("end_date"))
        ups = [ends.get((dag, run_id, u)) for u in upstream[dag].get(task, [])]
        could_run = max(ups) if ups and all(ups) else run_start[(dag, run_id)] if not ups else None
        d = per_task.setdefault(f"{dag}.{task}", {"delay": [], "to_queue": [], "to_start": [], "run": []})
        if could_run and start:
            d["delay"].append((start - could_run).total_seconds())
        if sched and queued:
            d["to_queue"].append((queued - sched).total_seconds())
        if queued and start:
            d["to_start"].append((start - queued).total_seconds())
        if start and end:
            d["run"].append((end - start).total_seconds())
    tasks = {}
    for key, v in sorted(per_task.items()):
        delay = median_max(v["delay"])
        tasks[key] = {"count": len(v["run"]) or len(v["delay"]), "delay_median": delay[0], "delay_max": delay[1],
                      "to_queue_median": median_max(v["to_queue"])[0], "to_start_median": median_max(v["to_start"])[0],
                      "run_median": median_max(v["run"])[0]}
    # With one active run per DAG, the next run of a DAG starts only after the previous one ended.
    gaps = {}
    for dag, rs in runs.items():
        ordered = sorted(rs, key=lambda r: r["logical_date"] or "")
        between = [(parse_time(b["start_date"]) - parse_time(a["end_date"])).total_seconds()
                   for a, b in itertools.pairwise(ordered) if a["end_date"] and b["start_date"]]
        gaps[dag] = median_max(between)
    return {
        "stack_up_s": stack_up_s,
        "week_s": (last - first).total_seconds(),
        "from_ready_s": (last - ready).total_seconds(),
        "runs": {dag: len(rs) for dag, rs in runs.items()},
        "settings": env,
        "tasks": tasks,
        "run_gaps": gaps,
    }


# ---- the report --------------------------------------------------------------------------------------------------


def mb(b: float | None) -> str:
    return "n/a" if b is None else f"{b / 1e6:,.0f}"


def secs(s: float | None, failed: str | None = None) -> str:
    if failed:
        return "**failed**" if not failed.startswith("no ") else "–"
    return "–" if s is None else f"{s:.2f}" if s < 100 else f"{s:.0f}"


def rate(rows: int, s: float | None) -> str:
    return "–" if s is None else f"{rows / s:,.0f}"


def input_mb(b: int) -> str:
    return "–" if not b else f"{b / 1e6:.1f}" if b < 10e6 else f"{b / 1e6:,.0f}"


def yes(ok: bool | None) -> str:
    return "n/a" if ok is None else "yes" if ok else "**no**"


def report(res: dict) -> str:
    m, opts = res["machine"], res["options"]
    lines = [
        (f"Measured {res['date']} by `make bench`: {', '.join(f'{n:,}' for n in opts['sizes'])} rows, "
         f"{opts['epochs']} training epoch(s), images `{opts['prefix']}/*:{opts['version']}`, references "
         + " and ".join(f"`{i}`" for i in res["reference_images"].values()) + "."),
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB memory, "
        f"Docker {m['docker']}, cgroup {m['cgroup']}. Load average (1 min) {m['load_start']} at the start, "
        f"{m['load_end']} at the end" + (
            f": **busier than its {m['cores']} cores, so every time below is noisy**." if max(m["load_start"], m["load_end"]) > m["cores"] else "."),
        "",
    ]
    lines += ["### Targets", "", "| target | measured | met |", "|---|---|---|"]
    for t in res["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | {yes(t['met'])} |")
    lines += ["", "### Stage throughput", "",
              ("Wall time of one `docker run` (container start included) on the same input files. *÷ fastest ref* is "
               "ours over the faster reference of the row (named), above 1 when ours is slower. *work s* is the stage's "
               "own timing (its result line's `seconds`). Peak MB is the container cgroup's high-water mark (resident "
               "memory plus page cache of the files it wrote). "
               f"Training runs {opts['epochs']} epoch(s) on every side to keep the run short; time per epoch scales "
               "linearly."),
              ""]
    sizes = {}
    for row in res["stages"]:
        sizes.setdefault(row["size"], []).append(row)
    img = res["images"]
    for size, rows in sizes.items():
        lines += [f"**{size:,} rows × 20 features**", "",
                  ("| stage | rows | ours s | pandas s | polars s | ÷ fastest ref | ours work s | pandas work s "
                   "| polars work s | ours rows/s | ours peak MB | pandas peak MB | polars peak MB | input MB | image MB "
                   "| note |"),
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            fastest = fastest_ref(r)
            ratio = (f"{r['seconds']['ours'] / r['seconds'][fastest]:.2f} ({fastest})"
                     if fastest and r["seconds"]["ours"] is not None else "–")
            notes = [r["note"]] + [f"{side}: {r['error'][side]}" for side in SIDES if r["error"].get(side)]
            lines.append(
                f"| {r['stage']} | {r['rows']:,} | "
                + " | ".join(secs(r["seconds"].get(side), failed=r["error"].get(side)) for side in SIDES)
                + f" | {ratio} | " + " | ".join(secs(r["work_s"].get(side)) for side in SIDES)
                + f" | {rate(r['rows'], r['seconds']['ours'])} | " + " | ".join(mb(r["peak"].get(side)) for side in SIDES)
                + f" | {input_mb(r['input_bytes'])} | {img[plan_image(r['stage'])]:.0f} "
                f"| {'; '.join(n.replace('|', '/') for n in notes if n)} |")
        lines.append("")
    lines += ["Image sizes (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in img.items()) + ".", ""]
    ov = res["overhead"]
    if ov:
        bare = ov[BARE]["median"]
        lines += ["### Task overhead", "",
                  ("A run that does nothing: `--help` (the whole program loads, parses its command line and exits) "
                   f"against `docker run --rm {opts['node_image']} node -e 0`; median of {opts['repeat']} runs each, "
                   "interleaved."),
                  "", "| image | median s | min s | × bare node |", "|---|---:|---:|---:|"]
        for name, t in ov.items():
            lines.append(f"| {name} | {t['median']:.3f} | {t['min']:.3f} | {t['median'] / bare:.2f} |")
        lines.append("")
    wk = res["week"]
    if wk:
        s = wk["settings"]
        lines += ["### Pipeline latency: a simulated week through Airflow", "",
                  f"The compose stack of `make up` on free ports with `PIPELINE_START_DATE={s['PIPELINE_START_DATE']}`, "
                  f"`PIPELINE_END_DATE={s['PIPELINE_END_DATE']}`"
                  + "".join(f", `{k}={v}`" for k, v in s.items() if k not in ("PIPELINE_START_DATE", "PIPELINE_END_DATE")
                            and not k.endswith("_PORT"))
                  + f" and the compose file's defaults otherwise ({compose_defaults()}); the scheduler runs the week "
                  "by itself (catchup). "
                  f"Stack start (`up --wait`): {wk['stack_up_s']:.0f} s. "
                  f"**Week: {wk['week_s']:.0f} s** from the first run's start to the last run's end "
                  f"({wk['from_ready_s']:.0f} s after `up --wait` returned: the scheduler starts while the other services "
                  "are still coming up), for " + ", ".join(f"{n} {dag}" for dag, n in wk["runs"].items()) + " runs.", "",
                  ("Per task: *delay* is the scheduling delay, from the moment the task could run (the end of its "
                   "last upstream task, or its run's start for a first task) to its start; *→ queued* and *→ started* "
                   "split the scheduler's part (scheduled → queued) from the executor's (queued → started); *run* is "
                   "its duration, a container task's including the container's start. The sensors run in reschedule "
                   "mode: each poke starts them anew, so a sensor's delay also holds the time it waited for its data "
                   "or model (its poke interval at a time)."),
                  "", "| task | instances | delay median s | delay max s | → queued s | → started s | run median s |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for k, t in wk["tasks"].items():
            lines.append(f"| {k} | {t['count']} | {secs(t['delay_median'])} | {secs(t['delay_max'])} "
                         f"| {secs(t['to_queue_median'])} | {secs(t['to_start_median'])} | {secs(t['run_median'])} |")
        lines += ["", "Between consecutive runs of a DAG (one active run at a time: the previous run's end → the next "
                  "one's start): " + "; ".join(f"{dag} median {secs(m)} s, max {secs(x)} s"
                                                for dag, (m, x) in wk["run_gaps"].items() if m is not None) + ".", ""]
    failed = res.get("stack_error")
    if failed:
        lines += ["### Pipeline latency and idle stack", "",
                  f"Not measured ({', '.join(failed['parts'])}): {failed['error']}.", ""]
    idle = res.get("idle")
    if idle:
        lines += ["### Idle stack", "",
                  (f"The compose stack of `make up` with nothing to run ({idle['after']}): each service's memory "
                   f"(median) and CPU (mean) over {idle['samples']} `docker stats` samples {idle['every_s']:.0f} s apart, "
                   f"from {idle['settle_s']} s after no DAG run was queued or running. Memory is `docker stats`' figure "
                   "(resident memory and active page cache); CPU 100% is one core; the healthchecks count (the "
                   "dag-processor's is an `airflow jobs check`, a CLI process every 30 s; the others ask an HTTP "
                   "endpoint)."),
                  "", "| service | memory MiB | CPU % | processes |", "|---|---:|---:|---:|"]
        for svc, v in idle["services"].items():
            lines.append(f"| {svc} | {v['mem_mib']:,.0f} | {v['cpu_pct']:.1f} | {v.get('processes', '–')} |")
        lines += [f"| **total** | **{idle['total_mib']:,.0f}** ({idle['total_mib'] / 1024:.2f} GiB) "
                  f"| **{idle['total_cpu_pct']:.1f}** | |", ""]
    if res.get("peak_note"):
        lines += [f"Peak memory unknown: {res['peak_note']}.", ""]
    return "\n".join(lines)


def fastest_ref(row: dict) -> str | None:
    """The reference with the shorter wall time in a stage row, None when no reference has one."""
    timed = [(row["seconds"][side], side) for side in REFS if row["seconds"].get(side) is not None]
    return min(timed)[1] if timed else None


def compose_defaults() -> str:
    """The defaults the compose file gives the settings that shape the week, read from it so they cannot drift."""
    text = (ROOT / "compose/docker-compose.yml").read_text()
    found = re.findall(r"\$\{((?:GENERATE_ROWS|SENSOR_POKE_INTERVAL_SECONDS)):-([^}]*)\}", text)
    return ", ".join(f"`{k}={v}`" for k, v in dict(found).items())


def plan_image(stage: str) -> str:
    return "prepare" if stage == "split" else stage


def targets(res: dict) -> list[dict]:
    out = []
    big = max((r["size"] for r in res["stages"]), default=None)
    for stage, limit in STAGE_RATIO_TARGETS.items():
        row = next((r for r in res["stages"] if r["size"] == big and r["stage"] == stage), None)
        if row is None:
            continue
        target = f"{stage} on {big:,} rows ≤ {limit}× the fastest reference"
        fastest = fastest_ref(row)
        if fastest is None or row["seconds"]["ours"] is None:
            why = next((row["error"][side] for side in SIDES if row["error"].get(side)), "no time")
            out.append({"target": target, "measured": f"not measured: {why}", "met": False})
            continue
        ratio = row["seconds"]["ours"] / row["seconds"][fastest]
        out.append({"target": target, "met": ratio <= limit,
                    "measured": f"{ratio:.2f}× ({row['seconds']['ours']:.1f} s vs {fastest} {row['seconds'][fastest]:.1f} s)"})
    if res["overhead"]:
        ov = res["overhead"]
        bare = ov[BARE]["median"]
        worst = max(((k, v["median"] / bare) for k, v in ov.items() if k in STAGE_IMAGES), key=lambda kv: kv[1])
        out.append({"target": f"per-task overhead ≤ {OVERHEAD_RATIO_TARGET}× the bare container",
                    "measured": f"worst {worst[0]} {worst[1]:.2f}× ({ov[worst[0]]['median']:.2f} s vs {bare:.2f} s)",
                    "met": worst[1] <= OVERHEAD_RATIO_TARGET})
    if res["week"]:
        w = res["week"]["week_s"]
        out.append({"target": f"simulated week ≤ {WEEK_SECONDS_TARGET // 60} min on {res['machine']['cores']} cores",
                    "measured": f"{w:.0f} s", "met": w <= WEEK_SECONDS_TARGET})
    if big is not None:
        worst_stage, worst_ratio, met = None, 0.0, None
        for r in res["stages"]:
            if r["size"] == big and r["input_bytes"] and r["peak"].get("ours") is not None:
                ratio = r["peak"]["ours"] / r["input_bytes"]
                if ratio > worst_ratio:
                    worst_stage, worst_ratio = r["stage"], ratio
        if worst_stage:
            met = worst_ratio <= PEAK_INPUT_RATIO_TARGET
            over = [r["stage"] for r in res["stages"] if r["size"] == big and r["input_bytes"] and r["peak"].get("ours") is not None
                    and r["peak"]["ours"] / r["input_bytes"] > PEAK_INPUT_RATIO_TARGET]
            out.append({"target": f"peak memory ≤ {PEAK_INPUT_RATIO_TARGET:.0f}× the input CSV at {big:,} rows",
                        "measured": f"worst {worst_stage} {worst_ratio:.1f}×" + (f"; over: {', '.join(over)}" if over else ""),
                        "met": met})
        else:
            out.append({"target": f"peak memory ≤ {PEAK_INPUT_RATIO_TARGET:.0f}× the input CSV at {big:,} rows",
                        "measured": "n/a", "met": None})
    sizes = {s: res["images"][s] for s in STAGE_IMAGES}
    over = [s for s, mb_ in sizes.items() if mb_ > TASK_IMAGE_MB_TARGET]
    out.append({"target": f"task image with TensorFlow's libraries ≤ {TASK_IMAGE_MB_TARGET} MB",
                "measured": ", ".join(f"{s} {mb_:.0f}" for s, mb_ in sizes.items()) + " MB"
                + (f"; over: {', '.join(over)}" if over else ""), "met": not over})
    for part in (res.get("stack_error") or {}).get("parts", []):
        if not res.get(part):
            target = (f"simulated week ≤ {WEEK_SECONDS_TARGET // 60} min" if part == "week"
                      else f"idle stack ≤ {IDLE_STACK_GIB_TARGET} GiB")
            out.append({"target": target, "measured": "not measured: the stack did not come up (see below)", "met": False})
    idle = res.get("idle")
    if idle:
        gib = idle["total_mib"] / 1024
        top = max(idle["services"].items(), key=lambda kv: kv[1]["mem_mib"])
        out.append({"target": f"idle stack ≤ {IDLE_STACK_GIB_TARGET} GiB",
                    "measured": f"{gib:.2f} GiB over {len(idle['services'])} services (most: {top[0]} "
                                f"{top[1]['mem_mib']:,.0f} MiB)", "met": gib <= IDLE_STACK_GIB_TARGET})
    return out


PARTS = ("stages", "overhead", "week", "idle")
STAGE_IMAGES = ("generate", "prepare", "train", "validate", "predict", "monitor")


def write_doc(path: Path, body: str) -> None:
    block = f"{BEGIN}\n{body}\n{END}"
    if path.exists():
        text = path.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            text = head + block + rest.split(END, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = f"# Benchmarks\n\n{block}\n"
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    tmp.replace(path)


# ---- main --------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefix", default=os.environ.get("IMAGE_PREFIX", "airflow-ml-dags"), help="image prefix")
    ap.add_argument("--version", default=(ROOT / "VERSION").read_text().strip(), help="image tag")
    ap.add_argument("--node-image", default="node:22-bookworm-slim", help="the bare container of the overhead test")
    for side, name in REFS.items():
        ap.add_argument(f"--{side}-image", help=f"the {side} reference; default: <prefix>/{name}:<version>")
    ap.add_argument("--sizes", default="10000,100000,1000000", help="rows per size, comma-separated")
    ap.add_argument("--epochs", type=int, default=2, help="training epochs, on both sides")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each image for the overhead")
    ap.add_argument("--skip", default="", help=f"parts to leave out: {','.join(PARTS)} (comma-separated)")
    ap.add_argument("--only", default="", help="the parts to run, the others left out (e.g. --only idle)")
    ap.add_argument("--week-timeout", type=float, default=1800, help="seconds to wait for the week")
    ap.add_argument("--week-env", action="append", default=[], metavar="K=V",
                    help="extra setting for the stack's .env (e.g. SENSOR_POKE_INTERVAL_SECONDS=10)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/benchmarks.md")
    ap.add_argument("--json", type=Path, help="also write every raw number here")
    ap.add_argument("--from-json", type=Path, metavar="PATH",
                    help="measure nothing: write the report of the numbers a --json run saved")
    args = ap.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--sizes: expected comma-separated integers, got {args.sizes!r}")
    for opt in ("skip", "only"):
        parts = {s.strip() for s in getattr(args, opt).split(",") if s.strip()}
        if parts - set(PARTS):
            ap.error(f"--{opt}: unknown part(s) {', '.join(sorted(parts - set(PARTS)))}")
        setattr(args, opt, parts)
    if args.only:
        args.skip |= set(PARTS) - args.only
    for kv in args.week_env:
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", kv):
            ap.error(f"--week-env: expected NAME=value, got {kv!r}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.from_json:
        try:
            res = json.loads(args.from_json.read_text())
        except (OSError, json.JSONDecodeError) as err:
            print(f"bench: {args.from_json}: cannot read the results ({err})", file=sys.stderr)
            return 1
        write_doc(args.out, report(res))
        log(f"wrote {args.out}")
        return 0
    images = {s: f"{args.prefix}/{s}:{args.version}" for s in STAGE_IMAGES}
    ref_images = {side: getattr(args, f"{side}_image") or f"{args.prefix}/{name}:{args.version}"
                  for side, name in REFS.items()}
    try:
        for image in [*images.values(), *ref_images.values(), args.node_image]:
            if subprocess.run(["docker", "image", "inspect", image], check=False, capture_output=True).returncode != 0:
                raise BenchError(f"{image}: image not found (make bench builds it; or pass --prefix/--version)")
        peaks = CgroupPeak()
        docker = Docker(peaks, cleanup_image=ref_images["pandas"])
        res: dict = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "argv": argv,
            "options": {"prefix": args.prefix, "version": args.version, "epochs": args.epochs, "repeat": args.repeat,
                        "node_image": args.node_image, "sizes": args.sizes},
            "reference_images": ref_images,
            "machine": machine(peaks),
            "images": {**{s: image_mb(i) for s, i in images.items()},
                       **{f"{side} reference": image_mb(i) for side, i in ref_images.items()},
                       "bare node": image_mb(args.node_image)},
            "stages": [], "overhead": {}, "week": None, "idle": None,
        }
        log(f"machine: {res['machine']}")
        if "overhead" not in args.skip:
            res["overhead"] = bench_overhead(docker, args.node_image, images, ref_images, args.repeat)
            log("overhead: " + ", ".join(f"{k} {v['median']:.2f}s" for k, v in res["overhead"].items()))
        if "stages" not in args.skip:
            work = Path(tempfile.mkdtemp(prefix="aml-bench-"))
            try:
                for rows in args.sizes:
                    for row in bench_size(docker, images, ref_images, rows, args.epochs, work):
                        res["stages"].append({"size": rows, **asdict(row)})
            finally:
                remove_tree(docker, work)
        if not {"week", "idle"} <= args.skip:
            if args.json:  # the stage numbers outlive a stack that never comes up (--from-json)
                args.json.write_text(json.dumps(res, indent=2, default=str) + "\n")
            overrides = dict(kv.split("=", 1) for kv in args.week_env)
            window = IDLE_WINDOW if "week" in args.skip else WEEK
            try:
                with compose_stack(args.prefix, args.version, docker, window, overrides) as stack:
                    if "week" not in args.skip:
                        res["week"] = bench_week(stack, args.week_timeout)
                        log(f"week: {res['week']['week_s']:.0f}s")
                    if "idle" not in args.skip:
                        res["idle"] = bench_idle(stack, args.week_timeout)
                        log(f"idle: {res['idle']['total_mib']:.0f} MiB in all")
            except BenchError as err:
                # The other parts' numbers still make the report; the stack's part says why it has none.
                res["stack_error"] = {"parts": sorted({"week", "idle"} - args.skip), "error": str(err)}
                log(f"stack: {err}")
        res["machine"]["load_end"] = round(os.getloadavg()[0], 1)
        res["peak_note"] = peaks.unavailable
        res["targets"] = targets(res)
    except BenchError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str) + "\n")
    write_doc(args.out, report(res))
    for t in res["targets"]:
        log(f"target {t['target']}: {t['measured']} → {yes(t['met']).strip('*')}")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
