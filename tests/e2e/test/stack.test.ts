// The main job as a user runs it: `make up`'s compose stack, with a fixed week so the outcome is known.
// The scheduler runs everything by itself (catchup over the window); the test only watches, through the
// Airflow REST API and MLflow's, then checks the files and takes the UI screenshots for the README.
import { expect } from "chai";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Airflow, type DagRun } from "./airflow.ts";
import { takeScreenshots } from "./screenshots.ts";
import { printLogs, ROOT, startStack, type Stack } from "./stack.ts";

const WEEK = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06", "2026-11-07", "2026-11-08"];
// @weekly fires on Sundays: the one training run of the week is on its last day.
const TRAIN_DS = "2026-11-08";
const ROWS = 2000;
const MODEL = "airflow-ml-dags-classifier";

const expected: Record<string, string[]> = { generate_data: WEEK, train_model: [TRAIN_DS], predict: WEEK };

let stack: Stack;
let airflow: Airflow;
let failed = false;
const lastRun: Record<string, string> = {};

const dsOf = (run: DagRun) => (run.logical_date ?? "").slice(0, 10);

class RunFailed extends Error {
  override name = "RunFailed";
}

describe("the compose stack runs a week by itself", function () {
  before(async function () {
    this.timeout(15 * 60_000);
    stack = await startStack({
      PIPELINE_START_DATE: WEEK[0] as string,
      PIPELINE_END_DATE: WEEK.at(-1) as string,
      GENERATE_ROWS: String(ROWS),
      SENSOR_POKE_INTERVAL_SECONDS: "10",
    });
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

  it("every DAG run of the week succeeds, in order", async function () {
    this.timeout(25 * 60_000);
    for (const [dagId, days] of Object.entries(expected)) {
      const runs = await airflow.waitFor(
        `${dagId} runs for ${days.join(", ")}`,
        async () => {
          const all = await airflow.dagRuns(dagId);
          const bad = all.find((r) => r.state === "failed");
          if (bad) {
            const tis = await airflow.taskInstances(dagId, bad.dag_run_id);
            throw new RunFailed(`${dagId} ${bad.dag_run_id} failed: ${JSON.stringify(tis.map((t) => [t.task_id, t.state]))}`);
          }
          const done = all.filter((r) => r.state === "success");
          return done.length >= days.length ? all : undefined;
        },
        20 * 60_000,
      );
      expect(runs.map(dsOf), dagId).to.deep.equal(days);
      lastRun[dagId] = (runs.at(-1) as DagRun).dag_run_id;
      for (const run of runs) {
        const tis = await airflow.taskInstances(dagId, run.dag_run_id);
        expect(tis.length, `${dagId} ${run.dag_run_id}`).to.be.greaterThan(0);
        for (const ti of tis) expect(ti.state, `${dagId} ${dsOf(run)} ${ti.task_id}`).to.equal("success");
      }
    }
  });

  it("wrote the raw data, the model and the predictions of every day", async () => {
    const lines = async (p: string) => (await readFile(join(stack.dataDir, p), "utf8")).trimEnd().split("\n");
    for (const ds of WEEK) {
      expect(await lines(`raw/${ds}/data.csv`)).to.have.length(ROWS + 1);
      expect(await lines(`raw/${ds}/target.csv`)).to.have.length(ROWS + 1);
      const preds = await lines(`predictions/${ds}/predictions.csv`);
      expect(preds[0]).to.equal("id,probability,label");
      expect(preds).to.have.length(ROWS + 1);
      const manifest = JSON.parse((await lines(`predictions/${ds}/manifest.json`)).join("\n"));
      // Nobody set model_ref: predict used the registry's production model, trained on the week's last day.
      expect(manifest).to.include({ model_ref: `models:/${MODEL}@production`, model_ds: TRAIN_DS });
      expect(manifest.model_version).to.equal("1");
    }
    expect(await readdir(join(stack.dataDir, `models/${TRAIN_DS}`))).to.include.members([
      "manifest.json",
      "metrics.json",
      "preprocess.json",
    ]);
  });

  it("recorded the training run in MLflow: params, metrics, the model, and version 1 as production", async () => {
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${stack.mlflowUrl}/api/2.0/mlflow/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status, path).to.equal(200);
      return res.json() as Promise<Record<string, any>>;
    };
    const get = async (path: string) => {
      const res = await fetch(`${stack.mlflowUrl}/api/2.0/mlflow/${path}`);
      expect(res.status, path).to.equal(200);
      return res.json() as Promise<Record<string, any>>;
    };
    const { experiment } = await get("experiments/get-by-name?experiment_name=airflow-ml-dags");
    const { runs } = await post("runs/search", { experiment_ids: [experiment.experiment_id] });
    expect(runs).to.have.length(1);
    const run = runs[0];
    const params = Object.fromEntries(run.data.params.map((p: { key: string; value: string }) => [p.key, p.value]));
    expect(params).to.include.keys("ds", "family", "epochs", "learning_rate", "train_rows");
    const metrics = run.data.metrics.map((m: { key: string }) => m.key);
    expect(metrics).to.include.members(["loss", "val_roc_auc", "val_accuracy"]);
    const { files } = await get(`artifacts/list?run_id=${run.info.run_id}&path=model`);
    expect(files.map((f: { path: string }) => f.path)).to.include.members(["model/manifest.json", "model/preprocess.json"]);
    const { model_version } = await get(`registered-models/alias?name=${MODEL}&alias=production`);
    expect(model_version.version).to.equal("1");
    expect(model_version.run_id).to.equal(run.info.run_id);
  });

  it("takes the screenshots of the DAG list and of each DAG's graph", async function () {
    this.timeout(5 * 60_000);
    const saved = await takeScreenshots({
      url: stack.airflowUrl,
      user: stack.env.AIRFLOW_ADMIN_USER ?? "admin",
      password: stack.env.AIRFLOW_ADMIN_PASSWORD ?? "",
      dags: [...Object.keys(expected), "promote_model"].map((dagId) => ({ dagId, runId: lastRun[dagId] })),
      outDir: join(ROOT, "docs/screenshots"),
    });
    expect(saved).to.have.length(2 + Object.keys(expected).length);
  });
});
