// The Celery topology as `make up EXECUTOR=celery WORKERS=2` starts it, with the data on a named volume. The
// scheduler catches nothing up by itself (PIPELINE_CATCHUP=false): the week of stack.test.ts comes through
// Airflow's backfill (REST API), and the worker that runs `train` is killed with SIGKILL half-way. Every run
// must end green with the retry on the other worker, one training record and no container of the killed try
// left, and the week's files must be the LocalExecutor week's, byte for byte.
import { expect } from "chai";
import { execa } from "execa";
import { Airflow, type DagRun } from "./airflow.ts";
import { expectNoTaskContainers, expectOneTrainingRecord, runKey, trainingRecords } from "./lost-try.ts";
import { fingerprints, printLogs, startStack, type Stack } from "./stack.ts";
import { comparable, DRIFT_DS, localWeek, ROWS, TRAIN_DS, WEEK, WEEK_DIRS } from "./week.ts";

const MODEL = "airflow-ml-dags-classifier";
// A lost worker's task is failed after this long without a heartbeat, then retried (Airflow's default: 300 s).
const HEARTBEAT_TIMEOUT_S = 60;
const expected: Record<string, string[]> = { generate_data: WEEK, train_model: [TRAIN_DS], predict: WEEK };
// The first version goes to production by itself: nobody is asked, so neither branch of the answer runs.
const DECISION_TASKS = ["review", "promote_approved", "record_rejection"];

let stack: Stack;
let airflow: Airflow;
let failed = false;
let killedHost = "";
let trainRun: DagRun | undefined;

const dsOf = (run: DagRun) => (run.logical_date ?? "").slice(0, 10);

/** The worker containers, by the hostname Airflow records on the task instances they ran. */
async function workersByHost(): Promise<Map<string, string>> {
  const { stdout } = await execa("docker", ["ps", "-a", "-q", "--filter", `label=com.docker.compose.project=${stack.project}`, "--filter", "label=com.docker.compose.service=airflow-worker"]);
  const ids = stdout.split("\n").filter(Boolean);
  const hosts = new Map<string, string>();
  for (const id of ids) hosts.set((await execa("docker", ["inspect", "-f", "{{.Config.Hostname}}", id])).stdout.trim(), id);
  return hosts;
}

describe("the Celery topology: a backfilled week on two workers, one of them lost during train", function () {
  before(async function () {
    this.timeout(15 * 60_000);
    stack = await startStack(
      {
        PIPELINE_START_DATE: WEEK[0] as string,
        PIPELINE_END_DATE: TRAIN_DS,
        PIPELINE_CATCHUP: "false",
        GENERATE_ROWS: String(ROWS),
        GENERATE_DRIFT_FROM: DRIFT_DS,
        SENSOR_POKE_INTERVAL_SECONDS: "10",
        TASK_HEARTBEAT_TIMEOUT: String(HEARTBEAT_TIMEOUT_S),
      },
      { celeryWorkers: 2 },
    );
    airflow = new Airflow(stack.airflowUrl, stack.env.AIRFLOW_ADMIN_USER ?? "admin", stack.env.AIRFLOW_ADMIN_PASSWORD ?? "");
    await airflow.login();
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") failed = true;
  });

  after(async function () {
    this.timeout(5 * 60_000);
    if (!stack) return;
    if (failed) await printLogs(stack);
    await stack.down();
  });

  it("starts two healthy workers, each serving every queue of the contract", async function () {
    const hosts = await workersByHost();
    expect(hosts.size, "worker containers").to.equal(2);
    for (const id of hosts.values()) {
      expect((await execa("docker", ["inspect", "-f", "{{.State.Health.Status}}", id])).stdout.trim(), id).to.equal("healthy");
      const { all } = await execa("docker", ["logs", id], { all: true });
      expect(all, `${id}'s log`).to.match(/celery worker of the queues: default,training/);
    }
    // No catchup: nothing runs until the backfill asks.
    for (const dagId of Object.keys(expected)) expect(await airflow.dagRuns(dagId), dagId).to.deep.equal([]);
  });

  it("backfills the week through the REST API; the worker running train is killed, its retry runs on the other", async function () {
    this.timeout(30 * 60_000);
    for (const dagId of Object.keys(expected)) {
      await airflow.call("POST", "/backfills", {
        dag_id: dagId,
        from_date: `${WEEK[0]}T00:00:00Z`,
        to_date: `${TRAIN_DS}T00:00:00Z`,
        max_active_runs: 7,
      });
    }
    // Killed once train's first try has opened its MLflow run: the record a lost worker would leave behind.
    const running = await airflow.waitFor(
      "train's first try to run and open its MLflow run",
      async () => {
        const run = (await airflow.dagRuns("train_model")).find((r) => dsOf(r) === TRAIN_DS);
        if (!run) return undefined;
        const ti = (await airflow.taskInstances("train_model", run.dag_run_id)).find((t) => t.task_id === "train");
        if (ti?.state !== "running" || !ti.hostname) return undefined;
        const runs = await trainingRecords(stack, runKey("train_model", "train", run.dag_run_id));
        return runs.length > 0 ? { run, host: ti.hostname } : undefined;
      },
      20 * 60_000,
      1000,
    );
    trainRun = running.run;
    killedHost = running.host;
    const container = (await workersByHost()).get(killedHost);
    expect(container, `the worker container of host ${killedHost}`).to.be.a("string");
    // It stays down, so the retry can only go to the other worker.
    await execa("docker", ["update", "--restart=no", container as string]);
    await execa("docker", ["kill", "--signal", "KILL", container as string]);

    for (const [dagId, days] of Object.entries(expected)) {
      const runs = await airflow.waitFor(
        `${dagId}'s backfill runs for ${days.join(", ")}`,
        async () => {
          const all = (await airflow.dagRuns(dagId)).filter((r) => r.run_type === "backfill");
          const bad = all.find((r) => r.state === "failed");
          if (bad) {
            const tis = await airflow.taskInstances(dagId, bad.dag_run_id);
            const error = new Error(`${dagId} ${bad.dag_run_id} failed: ${JSON.stringify(tis.map((t) => [t.task_id, t.state]))}`);
            error.name = "RunFailed";
            throw error;
          }
          return all.filter((r) => r.state === "success").length >= days.length ? all : undefined;
        },
        20 * 60_000,
      );
      expect(runs.map(dsOf).sort(), dagId).to.deep.equal(days);
    }
  });

  it("every task succeeded, the tasks ran on both workers, and train's retry on the surviving one", async function () {
    expect(trainRun, "the train run (previous test)").to.not.equal(undefined);
    const hosts = new Set<string>();
    for (const dagId of Object.keys(expected)) {
      for (const run of (await airflow.dagRuns(dagId)).filter((r) => r.run_type === "backfill")) {
        for (const ti of await airflow.taskInstances(dagId, run.dag_run_id)) {
          const state = dagId === "train_model" && DECISION_TASKS.includes(ti.task_id) ? "skipped" : "success";
          expect(ti.state, `${dagId} ${dsOf(run)} ${ti.task_id}`).to.equal(state);
          if (ti.hostname) hosts.add(ti.hostname);
        }
      }
    }
    expect(hosts.size, `hosts the tasks ran on: ${[...hosts].join(", ")}`).to.equal(2);
    const train = (await airflow.taskInstances("train_model", (trainRun as DagRun).dag_run_id)).find((t) => t.task_id === "train");
    expect(train?.try_number, "train's tries").to.be.at.least(2);
    expect(train?.hostname, "the host of train's last try").to.not.equal(killedHost);
  });

  it("MLflow holds one training record for the day: the killed try's run is FAILED and superseded by the retry's", async () => {
    const kept = await expectOneTrainingRecord(stack, runKey("train_model", "train", (trainRun as DagRun).dag_run_id));
    const res = await fetch(`${stack.mlflowUrl}/api/2.0/mlflow/registered-models/alias?name=${MODEL}&alias=production`);
    const { model_version } = (await res.json()) as { model_version: { version: string; run_id: string } };
    expect(model_version).to.include({ version: "1", run_id: kept });
  });

  it("leaves no task container behind, the killed try's included", () => expectNoTaskContainers(stack));

  it("wrote the LocalExecutor week's files, byte for byte", async function () {
    if (!localWeek.sums) throw new Error("stack.test.ts's week did not record its files: run the e2e suite whole (mocha sorts the files)");
    const celery = comparable(await fingerprints(stack, WEEK_DIRS));
    expect([...celery.keys()], "the files of the week").to.deep.equal([...localWeek.sums.keys()]);
    const differ = [...celery].filter(([path, sum]) => localWeek.sums?.get(path) !== sum).map(([path]) => path);
    expect(differ, "files whose bytes differ").to.deep.equal([]);
    expect(celery.size, "files compared").to.be.greaterThan(WEEK.length * 3);
  });
});
