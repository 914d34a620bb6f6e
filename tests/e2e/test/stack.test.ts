// The main job as a user runs it: `make up`'s compose stack, with a fixed week so the outcome is known.
// The scheduler runs everything by itself (catchup over the window); the test only watches, through the
// Airflow REST API and MLflow's, then checks the files and takes the UI screenshots (the README's, under
// `make screenshots`). The one thing it does as a person would is the rollout decision on the retrained
// model, answered over the REST API the UI's Required Actions page uses; the one thing it does as a crash
// would is kill the scheduler with SIGKILL while a training task runs.
import { expect } from "chai";
import { execa } from "execa";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { Airflow, type DagRun } from "./airflow.ts";
import { readPng } from "./png.ts";
import { REPORT_WIDTH, screenshotFile, screenshotRequiredAction, takeScreenshots, VIEWPORT } from "./screenshots.ts";
import { expectNoTaskContainers, expectOneTrainingRecord, runKey, taskContainer } from "./lost-try.ts";
import { fingerprints, printLogs, ROOT, startStack, type Stack } from "./stack.ts";
import { comparable, DRIFT_DS, localWeek, ROWS, TRAIN_DS, WEEK, WEEK_DIRS } from "./week.ts";

// Where the screenshots go: SCREENSHOT_DIR if set (`make screenshots` sets docs/screenshots; a relative path is
// taken from the checkout's root), else a temporary folder, removed once they passed the checks. `make test`
// writes nothing into the checkout.
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ? resolve(ROOT, process.env.SCREENSHOT_DIR) : "";

// Two days after the week, which its model scores: a quiet one, then one from which the world has shifted
// (GENERATE_DRIFT_FROM), on which the monitor must alarm and make train_model run early.
const DAYS = [...WEEK, "2026-11-09", DRIFT_DS];
const MODEL = "airflow-ml-dags-classifier";

// The runs the schedules make by themselves; train_model's run on the retrain request comes on top.
const expected: Record<string, string[]> = { generate_data: DAYS, train_model: [TRAIN_DS], predict: DAYS, monitor: DAYS };

// The failure alerts go to receivers in a container on the stack's network (alert_sink.py), under this name.
const SINK = "alert-sink";
const WEBHOOK_PATH = "/hooks/T000/B000/e2e-secret";
const SMTP_LOGIN = "alerts";
const SMTP_PASSWORD = randomBytes(12).toString("hex");
const ALERT_TO = "ml-team@example.com";
const ALERT_FROM = "airflow-alerts@example.com";
// promote_model for a version that does not exist: the validate image refuses it, on every try.
const MISSING_VERSION = 999;
const FAILING_DS = TRAIN_DS;

interface Received {
  channel?: "webhook" | "email";
  ready?: boolean;
  path?: string;
  content_type?: string;
  body?: { text?: string };
  login?: string;
  from?: string;
  to?: string[];
  subject?: string;
  html?: string;
}

let sinkContainer = "";
let failingRun: DagRun | undefined;
// The day each registry version was trained on, as the tests learn it.
const trainedOn: Record<string, string> = { "1": TRAIN_DS };
// The monitor's reports, by day, once read.
const reports: Record<string, any> = {};
// The retrain run whose version waits for the reviewer, once seen waiting.
let reviewRun: DagRun | undefined;
// The tasks a version the gate decided alone skips: nobody is asked, so neither branch of the answer runs.
const DECISION_TASKS = ["review", "promote_approved", "record_rejection"];
const REVIEW_COMMENT = "Better on the shifted day; roll it out (e2e)";

async function startAlertSink(network: string): Promise<string> {
  // The Airflow image, which `make test-e2e` builds anyway: it has Python and aiosmtpd (from the lock).
  const image = `${process.env.IMAGE_PREFIX ?? "airflow-ml-dags"}/airflow:${
    process.env.IMAGE_VERSION ?? (await readFile(join(ROOT, "VERSION"), "utf8")).trim()
  }`;
  const script = await readFile(join(ROOT, "tests/e2e/alert_sink.py"), "utf8");
  const name = `${network}-${SINK}`;
  await execa("docker", [
    "run", "-d", "--pull", "never", "--name", name, "--network", network, "--network-alias", SINK,
    "--label", "airflow-ml-dags.test=e2e", "-e", `SINK_SMTP_LOGIN=${SMTP_LOGIN}`, "-e", `SINK_SMTP_PASSWORD=${SMTP_PASSWORD}`,
    image, "python", "-u", "-c", script,
  ]);
  return name;
}

/** What the sink has received so far, in order (its stdout, one JSON object a line). */
async function received(): Promise<Received[]> {
  const { stdout } = await execa("docker", ["logs", sinkContainer]);
  return stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Received);
}

/** The alerts whose first line (the webhook's text, the mail's subject) starts with `prefix`. */
async function alertsStartingWith(prefix: string): Promise<Received[]> {
  return (await received()).filter((r) => r.channel && (r.body?.text ?? r.subject ?? "").startsWith(prefix));
}

/**
 * Runs `take` with the folder the screenshots go to: SCREENSHOT_DIR, or a temporary one that is removed once
 * they passed their checks (kept, and named, when they did not).
 */
async function inScreenshotDir(take: (dir: string) => Promise<void>): Promise<void> {
  const outDir = SCREENSHOT_DIR || (await mkdtemp(join(tmpdir(), "aml-e2e-screenshots-")));
  let checked = false;
  try {
    await take(outDir);
    checked = true;
  } finally {
    if (SCREENSHOT_DIR) console.log(`      screenshots in ${outDir}`);
    else if (checked) await rm(outDir, { recursive: true, force: true });
    else console.error(`      screenshots kept in ${outDir}`);
  }
}

/** A real picture of this run: a whole PNG (every chunk's CRC, the pixels decoded), of the expected size,
 * written since `started`, and not blank. */
async function checkPng(file: string, started: number, size: { width: number; height: number }): Promise<void> {
  expect((await stat(file)).mtimeMs, `${file} written by this run`).to.be.at.least(started - 1000);
  const png = await readPng(file);
  expect({ width: png.width, height: png.height }, file).to.deep.equal(size);
  expect(png.bytes, `${file} bytes`).to.be.at.least(10_000);
  expect(png.colours, `${file} colours`).to.be.at.least(256);
  expect(png.dominantShare, `${file}: share of its most common colour`).to.be.at.most(0.95);
}

let stack: Stack;
let airflow: Airflow;
let failed = false;
const lastRun: Record<string, string> = {};

const dsOf = (run: DagRun) => (run.logical_date ?? "").slice(0, 10);
/** The run once it has ended, successful or not. */
const runDone = (dagId: string, run: DagRun) =>
  airflow.waitFor(`${dagId} ${run.dag_run_id} to end`, async () => {
    const [now] = (await airflow.dagRuns(dagId)).filter((r) => r.dag_run_id === run.dag_run_id);
    return now && ["success", "failed"].includes(now.state) ? now : undefined;
  }, 10 * 60_000);
// A day inside the window that has no training run yet (a model folder per day): a worse model's.
const GATE_DS = WEEK.at(-2) as string;
// That run, the version it registers and the production version before it, once triggered.
const gate: { run?: DagRun; version?: string; production?: string } = {};

/** A call of MLflow's REST API: a GET, or a POST of `body`; anything but 200 fails the test. */
async function mlflowApi(path: string, body?: unknown): Promise<Record<string, any>> {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const res = await fetch(`${stack.mlflowUrl}/api/2.0/mlflow/${path}`, init);
  expect(res.status, `${path}: ${res.status === 200 ? "" : await res.clone().text()}`).to.equal(200);
  return res.json() as Promise<Record<string, any>>;
}
const get = (path: string) => mlflowApi(path);
const post = (path: string, body: unknown) => mlflowApi(path, body);
const productionVersion = async () => (await get(`registered-models/alias?name=${MODEL}&alias=production`)).model_version.version as string;
const dataFile = async (path: string) => readFile(join(stack.dataDir, path), "utf8");
/** MLflow's list of {key, value} tags, as an object. */
const tagsOf = (o: { tags?: { key: string; value: string }[] }) => Object.fromEntries((o.tags ?? []).map((t) => [t.key, t.value]));
/** The review's request and answer in the REST API (the task is not mapped: map index -1). */
const hitlPath = (run: DagRun) => `/dags/train_model/dagRuns/${encodeURIComponent(run.dag_run_id)}/taskInstances/review/-1/hitlDetails`;

class RunFailed extends Error {
  override name = "RunFailed";
}

describe("the compose stack runs a week by itself", function () {
  before(async function () {
    this.timeout(15 * 60_000);
    stack = await startStack({
      PIPELINE_START_DATE: WEEK[0] as string,
      PIPELINE_END_DATE: DRIFT_DS,
      GENERATE_ROWS: String(ROWS),
      GENERATE_DRIFT_FROM: DRIFT_DS,
      SENSOR_POKE_INTERVAL_SECONDS: "10",
      // How soon the restarted scheduler sets the killed one's task to run again (Airflow's default: 300 s).
      ORPHANED_TASKS_CHECK_INTERVAL: "30",
      ALERT_WEBHOOK_URL: `http://${SINK}:8080${WEBHOOK_PATH}`,
      ALERT_EMAIL_TO: ALERT_TO,
      // The sender comes from the connection here (ALERT_EMAIL_FROM is left empty).
      AIRFLOW_CONN_SMTP_DEFAULT:
        `smtp://${SMTP_LOGIN}:${SMTP_PASSWORD}@${SINK}:8025?disable_ssl=true&disable_tls=true` +
        `&from_email=${encodeURIComponent(ALERT_FROM)}&timeout=10&retry_limit=0`,
    });
    sinkContainer = await startAlertSink(stack.project);
    airflow = new Airflow(stack.airflowUrl, stack.env.AIRFLOW_ADMIN_USER ?? "admin", stack.env.AIRFLOW_ADMIN_PASSWORD ?? "");
    await airflow.login();
    await airflow.waitFor("the alert sink to listen", async () => ((await received()).some((r) => r.ready) ? true : undefined), 60_000, 1000);
    // Triggered now so that its retries (TASK_RETRIES, 2 by default) run while the week does.
    failingRun = await airflow.waitFor(
      "promote_model to accept a trigger",
      () => airflow.triggerRun("promote_model", `${FAILING_DS}T12:00:00+00:00`, { version: MISSING_VERSION, alias: "e2e-alert" }),
      5 * 60_000,
    );
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed") failed = true;
  });

  after(async function () {
    this.timeout(5 * 60_000);
    if (!stack) return;
    if (failed) await printLogs(stack);
    if (sinkContainer) {
      if (failed) console.error((await execa("docker", ["logs", sinkContainer], { all: true, reject: false })).all);
      // Before compose down: the stack's network cannot go while the sink is attached to it.
      await execa("docker", ["rm", "-f", sinkContainer], { reject: false });
    }
    await stack.down();
  });

  it("every DAG run of the week succeeds, in order", async function () {
    this.timeout(25 * 60_000);
    for (const [dagId, days] of Object.entries(expected)) {
      const runs = await airflow.waitFor(
        `${dagId} runs for ${days.join(", ")}`,
        async () => {
          const all = (await airflow.dagRuns(dagId)).filter((r) => r.run_type === "scheduled");
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
        for (const ti of tis) {
          // A quiet day's monitor run has nothing to retrain for: that one task is skipped, on that day only.
          const retrain = dagId === "monitor" && ti.task_id === "request_retrain";
          // The registry's first version goes to production by itself (make up fills its week unattended).
          const undecided = dagId === "train_model" && DECISION_TASKS.includes(ti.task_id);
          const state = (retrain && dsOf(run) !== DRIFT_DS) || undecided ? "skipped" : "success";
          expect(ti.state, `${dagId} ${dsOf(run)} ${ti.task_id}`).to.equal(state);
        }
      }
    }
  });

  it("wrote the raw data, the model and the predictions of every day", async () => {
    const lines = async (p: string) => (await readFile(join(stack.dataDir, p), "utf8")).trimEnd().split("\n");
    for (const ds of DAYS) {
      expect(await lines(`raw/${ds}/data.csv`)).to.have.length(ROWS + 1);
      expect(await lines(`raw/${ds}/target.csv`)).to.have.length(ROWS + 1);
      const preds = await lines(`predictions/${ds}/predictions.csv`);
      expect(preds[0]).to.equal("id,probability,label");
      expect(preds).to.have.length(ROWS + 1);
      const manifest = JSON.parse((await lines(`predictions/${ds}/manifest.json`)).join("\n"));
      // Nobody set model_ref: predict used the registry's production model, trained on the week's last day.
      expect(manifest).to.include({ model_ref: `models:/${MODEL}@production`, model_ds: TRAIN_DS });
      // The sensor resolved the alias once: predict scored exactly that version.
      expect(manifest).to.include({ model: `models:/${MODEL}/1`, model_version: "1" });
    }
    expect(await readdir(join(stack.dataDir, `models/${TRAIN_DS}`))).to.include.members([
      "manifest.json",
      "metrics.json",
      "preprocess.json",
    ]);
    // Before anything else runs on these days: what the Celery week (week-on-celery.test.ts) must equal.
    localWeek.sums = comparable(await fingerprints(stack, WEEK_DIRS));
  });

  it("recorded the training run in MLflow: params, metrics, the model, and version 1 as production", async () => {
    const { experiment } = await get("experiments/get-by-name?experiment_name=airflow-ml-dags");
    const { runs } = await post("runs/search", { experiment_ids: [experiment.experiment_id], filter: `params.ds = '${TRAIN_DS}'` });
    // The week's one run (the retrain on the alarm is another day's).
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

  it("monitored every day: a report each, only the shifted day over its thresholds, the series in MLflow", async () => {
    for (const ds of DAYS) {
      const report = JSON.parse(await dataFile(`monitoring/${ds}/report.json`));
      expect(report.model, ds).to.include({ version: "1", model_ds: TRAIN_DS });
      expect(report.rows, ds).to.equal(ROWS);
      const psiAlarms = report.alarms.filter((a: { metric: string }) => a.metric === "psi");
      if (ds === DRIFT_DS) expect(psiAlarms, `${ds} alarms`).to.not.be.empty;
      else expect(report.alarms, `${ds} alarms`).to.deep.equal([]);
      reports[ds] = report;
    }
    const index = await dataFile("monitoring/index.html");
    for (const ds of DAYS) expect(index).to.include(`href="${ds}/report.html"`);

    // One run for the production version, one point a day of each metric, at the day's midnight.
    const { experiment } = await get("experiments/get-by-name?experiment_name=airflow-ml-dags-monitoring");
    const { runs } = await post("runs/search", { experiment_ids: [experiment.experiment_id] });
    expect(runs.map((r: { info: { run_name: string } }) => r.info.run_name)).to.deep.equal(["monitor-v1"]);
    const runId = runs[0].info.run_id;
    const { metrics } = await get(`metrics/get-history?run_id=${runId}&metric_key=monitor_roc_auc`);
    const points = [...metrics].sort((a, b) => a.timestamp - b.timestamp);
    expect(points.map((m) => m.timestamp)).to.deep.equal(DAYS.map((d) => Date.parse(`${d}T00:00:00Z`)));
    points.forEach((m, i) => expect(m.value, DAYS[i]).to.be.closeTo(reports[DAYS[i] as string].quality.roc_auc, 1e-12));
    const { files } = await get(`artifacts/list?run_id=${runId}&path=reports`);
    expect(files.map((f: { path: string }) => f.path).sort()).to.deep.equal(DAYS.map((d) => `reports/${d}`));
  });

  it("the shifted day sends one alarm by webhook and by e-mail; train_model runs early on the Asset and its version waits for a person", async function () {
    this.timeout(15 * 60_000);
    const report = reports[DRIFT_DS];
    expect(report, "the report of the shifted day (previous test)").to.not.equal(undefined);
    const alarms = await airflow.waitFor(
      "the monitor's alarm on both channels",
      async () => {
        const got = await alertsStartingWith(`Monitor alarm for ${DRIFT_DS}`);
        return got.some((r) => r.channel === "webhook") && got.some((r) => r.channel === "email") ? got : undefined;
      },
      2 * 60_000,
      2000,
    );
    expect(alarms.map((a) => a.channel).sort()).to.deep.equal(["email", "webhook"]);
    expect(await alertsStartingWith("Monitor alarm"), "alarms of any day").to.have.length(2);
    const lines = ((alarms.find((a) => a.channel === "webhook") as Received).body?.text ?? "").split("\n");
    expect(lines[0]).to.equal(`Monitor alarm for ${DRIFT_DS}: model version 1, ${report.alarms.length} over threshold`);
    for (const a of report.alarms) expect(lines).to.include(`${a.subject}: ${a.metric} ${a.value.toFixed(4)} (threshold ${a.threshold.toFixed(4)})`);

    // The retrain request: an event of the Asset train_model's schedule waits for, naming the day.
    const { asset_events } = await airflow.call<{ asset_events: { source_task_id: string; extra: { ds?: string } }[] }>(
      "GET",
      "/assets/events?source_dag_id=monitor&limit=100",
    );
    const requests = asset_events.filter((e) => e.source_task_id === "request_retrain");
    expect(requests.map((e) => e.extra.ds)).to.deep.equal([DRIFT_DS]);

    // A model that has seen the shifted day should win on it: the gate passes it, and under approval=required
    // (the default) it then waits for a person, with production left alone.
    const waiting = await airflow.waitFor(
      "train_model's run on the retrain request to wait in review",
      async () => {
        const runs = (await airflow.dagRuns("train_model")).filter((r) => r.run_type === "asset_triggered");
        const bad = runs.find((r) => r.state === "failed" || r.state === "success");
        if (bad) {
          const tis = await airflow.taskInstances("train_model", bad.dag_run_id);
          throw new RunFailed(`train_model ${bad.dag_run_id} ${bad.state} without a decision: ${JSON.stringify(tis.map((t) => [t.task_id, t.state]))}`);
        }
        const [run] = runs;
        if (!run) return undefined;
        const tis = await airflow.taskInstances("train_model", run.dag_run_id);
        return tis.find((t) => t.task_id === "review")?.state === "awaiting_input" ? { runs, run, tis } : undefined;
      },
      10 * 60_000,
    );
    expect(waiting.runs).to.have.length(1);
    reviewRun = waiting.run;
    expect(waiting.run.state).to.equal("running");
    // It has no logical date: its run date is the alarm's day, from the event, and its window ends there.
    expect(waiting.run.logical_date ?? null).to.equal(null);
    const states = Object.fromEntries(waiting.tis.map((t) => [t.task_id, t.state]));
    expect(states).to.include({ train: "success", validate: "success", review: "awaiting_input" });
    // Neither branch of the answer has run.
    expect([states.promote_approved, states.record_rejection]).to.deep.equal([null, null]);

    const manifest = JSON.parse(await dataFile(`models/${DRIFT_DS}/manifest.json`));
    expect(manifest.ds).to.equal(DRIFT_DS);
    const metrics = JSON.parse(await dataFile(`models/${DRIFT_DS}/metrics.json`));
    console.log(`      retrain on ${DRIFT_DS}: version 2 ${metrics.registry.decision} (${metrics.registry.metric} ` +
      `${metrics.registry.candidate} vs ${metrics.registry.production})`);
    expect(metrics.registry).to.include({ version: "2", production_version: "1", decision: "pending" });
    expect(metrics.registry.approval).to.deep.equal({ mode: "required", status: "pending", timeout_days: 7 });
    expect(metrics.registry.candidate).to.be.at.least(metrics.registry.production);
    trainedOn["2"] = DRIFT_DS;
    expect(await productionVersion()).to.equal("1");
    const { model_version } = await get(`model-versions/get?name=${MODEL}&version=2`);
    expect(tagsOf(model_version)).to.include({ approval: "pending", gate_decision: "pending" });
    expect(model_version.aliases ?? []).to.deep.equal([]);
  });

  it("tells the reviewer by webhook and e-mail, with the version, its numbers and the Required Actions link", async function () {
    this.timeout(5 * 60_000);
    const run = reviewRun as DagRun;
    expect(run, "the run waiting in review (previous test)").to.not.equal(undefined);
    const { registry } = JSON.parse(await dataFile(`models/${DRIFT_DS}/metrics.json`));
    const subject = `Decision needed: ${MODEL} version 2 waits for approval`;
    const notices = await airflow.waitFor(
      "the review request on both channels",
      async () => {
        const got = await alertsStartingWith(subject);
        return got.some((r) => r.channel === "webhook") && got.some((r) => r.channel === "email") ? got : undefined;
      },
      2 * 60_000,
      2000,
    );
    expect(notices.map((a) => a.channel).sort()).to.deep.equal(["email", "webhook"]);
    const link = `http://localhost:${stack.env.AIRFLOW_PORT}/dags/train_model/runs/${run.dag_run_id}/tasks/review/required_actions?map_index=-1`;
    const webhook = notices.find((a) => a.channel === "webhook") as Received;
    expect(webhook.path).to.equal(WEBHOOK_PATH);
    expect((webhook.body?.text ?? "").split("\n")).to.deep.equal([
      subject,
      `roc_auc ${registry.candidate.toFixed(4)} vs ${registry.production.toFixed(4)} for production version 1 (margin 0.0000)`,
      `Decide at ${link} within 7 day(s); then it is rejected.`,
    ]);
    const mail = notices.find((a) => a.channel === "email") as Received;
    expect(mail).to.include({ subject, from: ALERT_FROM });
    expect(mail.html).to.include(link.replace(/&/g, "&amp;"));

    // What the Required Actions page shows: the request, as the UI reads it from the REST API.
    const detail = await airflow.call<Record<string, any>>("GET", hitlPath(run));
    expect(detail).to.include({ subject: `Roll out ${MODEL} version 2 (trained on data to ${DRIFT_DS}) to production?`, response_received: false });
    expect(detail.options).to.deep.equal(["Approve", "Reject"]);
    // No answer in time is a rejection.
    expect(detail.defaults).to.deep.equal(["Reject"]);
    expect(Object.keys(detail.params)).to.deep.equal(["comment"]);
    const body: string = detail.body;
    expect(body).to.include("## Candidate version 2 against production version 1");
    expect(body).to.include(`| **roc_auc** (gate) ↑ | ${registry.candidate.toFixed(4)} | ${registry.production.toFixed(4)} |`);
    // The production model's latest monitoring verdict: the shifted day's alarm that asked for this model.
    expect(body).to.include(`Latest report of version 1: **${reports[DRIFT_DS].verdict}** on ${DRIFT_DS}`);
    expect(body).to.include(`[Candidate: version 2](http://localhost:${stack.env.MLFLOW_PORT}/#/models/${MODEL}/versions/2)`);
    expect(body).to.include(`/#/experiments/${registry.experiment_id}/runs/${registry.run_id})`);
  });

  it("takes the screenshot of the Required Actions page the reviewer decides on", async function () {
    this.timeout(3 * 60_000);
    const run = reviewRun as DagRun;
    expect(run, "the run waiting in review").to.not.equal(undefined);
    await inScreenshotDir(async (outDir) => {
      const started = Date.now();
      const file = join(outDir, "required-actions.png");
      const shot = await screenshotRequiredAction({
        url: stack.airflowUrl,
        user: stack.env.AIRFLOW_ADMIN_USER ?? "admin",
        password: stack.env.AIRFLOW_ADMIN_PASSWORD ?? "",
        path: `/dags/train_model/runs/${encodeURIComponent(run.dag_run_id)}/tasks/review/required_actions`,
        expect: [`Roll out ${MODEL} version 2`, "Candidate version 2 against production version 1"],
        out: file,
      });
      expect(shot.found, "texts on the page").to.deep.equal([true, true]);
      expect(shot.buttons, "the answer's buttons").to.deep.equal(["Approve", "Reject"]);
      await checkPng(file, started, { width: VIEWPORT.width, height: shot.height });
    });
  });

  it("the admin's approval over the REST API is what moves production to version 2, recorded on its tags", async function () {
    this.timeout(10 * 60_000);
    const run = reviewRun as DagRun;
    expect(run, "the run waiting in review").to.not.equal(undefined);
    // Until someone answers, nothing moves.
    expect(await productionVersion()).to.equal("1");
    const admin = stack.env.AIRFLOW_ADMIN_USER ?? "admin";
    const answer = await airflow.call<Record<string, any>>("PATCH", hitlPath(run), {
      chosen_options: ["Approve"],
      params_input: { comment: REVIEW_COMMENT },
    });
    expect(answer.chosen_options).to.deep.equal(["Approve"]);
    expect(answer.responded_by.name).to.equal(admin);
    // A decision is made once: a second answer is refused.
    const again = await airflow.call("PATCH", hitlPath(run), { chosen_options: ["Reject"] }).then(() => "accepted", (e: Error) => e.message);
    expect(again).to.match(/HTTP 409/);

    const done = await airflow.waitFor(`train_model ${run.dag_run_id} to finish`, async () => {
      const [now] = (await airflow.dagRuns("train_model")).filter((r) => r.dag_run_id === run.dag_run_id);
      return now && ["success", "failed"].includes(now.state) ? now : undefined;
    }, 5 * 60_000);
    const tis = await airflow.taskInstances("train_model", run.dag_run_id);
    const states = Object.fromEntries(tis.map((t) => [t.task_id, t.state]));
    expect(done.state, JSON.stringify(states)).to.equal("success");
    expect(states).to.include({ review: "success", promote_approved: "success", record_rejection: "skipped" });

    expect(await productionVersion()).to.equal("2");
    const { model_version } = await get(`model-versions/get?name=${MODEL}&version=2`);
    const tags = tagsOf(model_version);
    expect(tags).to.include({
      approval: "approved",
      approved_by: admin,
      approval_comment: REVIEW_COMMENT,
      promoted_by: "approval",
      promotion_reason: REVIEW_COMMENT,
      promoted_from: "1",
    });
    expect(tags).to.not.have.any.keys("rejected", "rejected_by");
    expect(Date.parse(tags.approval_at as string)).to.equal(Date.parse(answer.responded_at));
    const { run: mlRun } = await get(`runs/get?run_id=${model_version.run_id}`);
    expect(tagsOf(mlRun.data)).to.include({ approval: "approved", approved_by: admin });
    const { registry } = JSON.parse(await dataFile(`models/${DRIFT_DS}/metrics.json`));
    expect(registry).to.include({ version: "2", decision: "promoted" });
    expect(registry.approval).to.include({ status: "approved", by: admin, comment: REVIEW_COMMENT });
  });

  it("takes the screenshot of the shifted day's report page, opened from the data folder", async function () {
    this.timeout(2 * 60_000);
    await inScreenshotDir(async (outDir) => {
      const started = Date.now();
      const file = join(outDir, "monitoring-report.png");
      const shot = await screenshotFile(join(stack.dataDir, `monitoring/${DRIFT_DS}/report.html`), file);
      // Self-contained: the page asked for nothing beyond its own file.
      expect(shot.requests).to.deep.equal([]);
      await checkPng(file, started, { width: REPORT_WIDTH, height: shot.height });
    });
  });

  it("a training run whose scheduler is killed with SIGKILL during train ends green on the retry: one training record, no container left", async function () {
    this.timeout(15 * 60_000);
    // The scheduler takes every try it runs with it: the failing promote_model run (before) is over by now,
    // so train's is the only one lost.
    await airflow.waitFor("the failing promote_model run's last try", async () => {
      const tis = await airflow.taskInstances("promote_model", (failingRun as DagRun).dag_run_id);
      return tis.every((t) => t.state === "failed") ? true : undefined;
    }, 10 * 60_000);
    gate.version = String(Object.keys(trainedOn).length + 1);
    gate.production = await productionVersion();
    // A worse model, which the next test sees rejected by the gate.
    gate.run = await airflow.triggerRun("train_model", `${GATE_DS}T12:00:00+00:00`, {
      days: WEEK.length - 1,
      family: "logreg",
      epochs: 1,
      learning_rate: 0.00001,
    });
    const key = runKey("train_model", "train", gate.run.dag_run_id);
    const container = taskContainer(key);
    await airflow.waitFor("train's first try to start its container", async () => {
      const r = await execa("docker", ["inspect", "-f", "{{.State.Running}}", container], { reject: false });
      return r.stdout.trim() === "true" ? true : undefined;
    }, 10 * 60_000, 250);
    // Held still while the scheduler dies, so the kill lands mid-task however few seconds train takes here.
    await execa("docker", ["pause", container]);
    const scheduler = (await stack.compose("ps", "-q", "airflow-scheduler")).trim();
    await execa("docker", ["kill", "--signal", "KILL", scheduler]);
    // LocalExecutor's tries are the scheduler's processes: train's died with it, its container runs on.
    await execa("docker", ["unpause", container]);
    // Back as after a crash under its restart policy (Docker counts a kill by hand as a stop, and restarts nothing).
    await execa("docker", ["start", scheduler]);

    const done = await runDone("train_model", gate.run);
    const tis = await airflow.taskInstances("train_model", gate.run.dag_run_id);
    expect(done.state, JSON.stringify(tis.map((t) => [t.task_id, t.state]))).to.equal("success");
    expect(tis.find((t) => t.task_id === "train")?.try_number, "train's tries").to.be.at.least(2);
    trainedOn[gate.version] = GATE_DS;
    const kept = await expectOneTrainingRecord(stack, key);
    const { model_version } = await get(`model-versions/get?name=${MODEL}&version=${gate.version}`);
    expect(model_version.run_id, `version ${gate.version}'s run`).to.equal(kept);
    await expectNoTaskContainers(stack);
  });

  it("a worse model trained through the REST API is rejected by the gate, and predict keeps the production version", async function () {
    this.timeout(15 * 60_000);
    expect(gate.run, "the worse model's training run (previous test)").to.not.equal(undefined);
    const ds = GATE_DS;
    const next = gate.version as string;
    const production = gate.production as string;
    const metrics = JSON.parse(await dataFile(`models/${ds}/metrics.json`));
    expect(metrics.registry).to.include({ version: next, decision: "rejected", production_version: production });
    expect(metrics.registry.candidate).to.be.lessThan(metrics.registry.production);
    // The gate rejected it: it is never put before a person.
    expect(metrics.registry.approval).to.deep.equal({ mode: "required", status: "not_needed", timeout_days: null });
    const trainTis = await airflow.taskInstances("train_model", (gate.run as DagRun).dag_run_id);
    for (const id of DECISION_TASKS) expect(trainTis.find((t) => t.task_id === id)?.state, id).to.equal("skipped");

    expect(await productionVersion()).to.equal(production);
    const { model_version } = await get(`model-versions/get?name=${MODEL}&version=${next}`);
    expect(model_version.tags.map((t: { key: string }) => t.key)).to.include("rejected");

    const predict = await airflow.triggerRun("predict", `${ds}T12:00:00+00:00`);
    expect((await runDone("predict", predict)).state).to.equal("success");
    const manifest = JSON.parse(await dataFile(`predictions/${ds}/manifest.json`));
    expect(manifest).to.include({ model_ref: `models:/${MODEL}@production`, model_version: production, model_ds: trainedOn[production] });
  });

  it("a version nobody decides on within approval_timeout_days is rejected by the scheduler, with an alert", async function () {
    this.timeout(15 * 60_000);
    // The one day of the window left without a training run.
    const ds = DAYS.at(-2) as string;
    const production = await productionVersion();
    const next = String(Object.keys(trainedOn).length + 1);
    // The case is the timeout, not the model: at threshold 0 every row is labelled 1, so both models have recall 1
    // and the tie passes the gate whatever was learned. 0.001 days is 86 seconds.
    const train = await airflow.triggerRun("train_model", `${ds}T12:00:00+00:00`, {
      gate_metric: "recall",
      threshold: 0,
      approval_timeout_days: 0.001,
    });
    const done = await airflow.waitFor(`train_model ${train.dag_run_id} to finish`, async () => {
      const [now] = (await airflow.dagRuns("train_model")).filter((r) => r.dag_run_id === train.dag_run_id);
      return now && ["success", "failed"].includes(now.state) ? now : undefined;
    }, 10 * 60_000);
    const states = Object.fromEntries((await airflow.taskInstances("train_model", train.dag_run_id)).map((t) => [t.task_id, t.state]));
    expect(done.state, JSON.stringify(states)).to.equal("success");
    expect(states).to.include({ validate: "success", review: "success", promote_approved: "skipped", record_rejection: "success" });
    trainedOn[next] = ds;

    // Nobody answered: the scheduler applied the request's default.
    const detail = await airflow.call<Record<string, any>>("GET", hitlPath(train));
    expect(detail).to.include({ response_received: true, responded_by_user: null });
    expect(detail.chosen_options).to.deep.equal(["Reject"]);

    expect(await productionVersion()).to.equal(production);
    const { model_version } = await get(`model-versions/get?name=${MODEL}&version=${next}`);
    const tags = tagsOf(model_version);
    expect(tags).to.include({ approval: "timed_out", rejected_by: "timeout", rejected: "no decision within 0.001 days", gate_decision: "pending" });
    expect(tags).to.not.have.any.keys("approved_by", "promoted_by");
    const { registry } = JSON.parse(await dataFile(`models/${ds}/metrics.json`));
    expect(registry).to.include({ version: next, decision: "rejected", production_version: production });
    expect(registry.approval).to.include({ mode: "required", status: "timed_out", by: "timeout", timeout_days: 0.001 });

    // The reviewer was asked, and then told nobody decided.
    expect(await alertsStartingWith(`Decision needed: ${MODEL} version ${next} waits for approval`)).to.have.length(2);
    const subject = `No decision on ${MODEL} version ${next} within 0.001 day(s): rejected`;
    const alerts = await airflow.waitFor("the timeout alert on both channels", async () => {
      const got = await alertsStartingWith(subject);
      return got.length >= 2 ? got : undefined;
    }, 2 * 60_000, 2000);
    expect(alerts.map((a) => a.channel).sort()).to.deep.equal(["email", "webhook"]);
    expect((alerts.find((a) => a.channel === "webhook") as Received).body?.text).to.equal(
      `${subject}\nproduction stays where it is; approve it by hand with promote_model if wanted.`,
    );
  });

  it("a task that fails for good sends one alert by webhook and by e-mail; the week's runs sent none", async function () {
    this.timeout(15 * 60_000);
    const run = failingRun as DagRun;
    const states = await airflow.waitFor(
      `promote_model ${run.dag_run_id} to fail`,
      async () => {
        const tis = await airflow.taskInstances("promote_model", run.dag_run_id);
        return tis.every((t) => t.state === "failed") ? tis : undefined;
      },
      10 * 60_000,
    );
    const tries = (states[0] as { try_number: number }).try_number;
    // The callback runs right after the task is marked failed: wait for what it sent.
    const alerts = await airflow.waitFor(
      "the alert on both channels",
      async () => {
        const got = await alertsStartingWith("Airflow task failed");
        return got.some((r) => r.channel === "webhook") && got.some((r) => r.channel === "email") ? got : undefined;
      },
      2 * 60_000,
      2000,
    );
    // Exactly one failure alert a channel: the week's runs all succeeded, and the first tries of this one only retried.
    expect(alerts.map((a) => a.channel).sort()).to.deep.equal(["email", "webhook"]);
    expect(tries, "TASK_RETRIES is 2 in the stack").to.equal(3);

    const logUrl = `http://localhost:${stack.env.AIRFLOW_PORT}/dags/promote_model/runs/${encodeURIComponent(run.dag_run_id)}/tasks/promote?try_number=3`;
    const webhook = alerts.find((a) => a.channel === "webhook") as Received;
    expect(webhook.path).to.equal(WEBHOOK_PATH);
    expect(webhook.content_type).to.equal("application/json");
    const lines = (webhook.body?.text ?? "").split("\n");
    expect(lines[0]).to.equal(`Airflow task failed: promote_model.promote for ${FAILING_DS} (try 3 of 3)`);
    expect(lines.slice(1, 5)).to.deep.equal(["DAG: promote_model", "Task: promote", `ds: ${FAILING_DS}`, "Try: 3 of 3"]);
    // The validate image's own error line, which names the version it could not find.
    expect(lines[5]).to.match(/^Error: .+/).and.to.include(`models:/${MODEL}/${MISSING_VERSION}`);
    expect(lines[6]).to.equal(`Log: ${logUrl}`);
    expect(lines).to.have.length(7);

    const mail = alerts.find((a) => a.channel === "email") as Received;
    expect(mail).to.include({ login: SMTP_LOGIN, from: ALERT_FROM, subject: lines[0] });
    expect(mail.to).to.deep.equal([ALERT_TO]);
    expect(mail.html).to.include("<td>promote_model</td>").and.to.include(`<td>${FAILING_DS}</td>`).and.to.include("<td>3 of 3</td>");
    expect(mail.html).to.include(`<a href="${logUrl}">`);

    // The README's screenshot of promote_model shows its plain graph, not this run. The scheduler marks the run
    // failed a moment after its task (the alert may come first), and a running run cannot be deleted.
    await airflow.waitFor(`promote_model ${run.dag_run_id} to be marked failed`, async () => {
      const [now] = (await airflow.dagRuns("promote_model")).filter((r) => r.dag_run_id === run.dag_run_id);
      return now?.state === "failed" ? now : undefined;
    }, 2 * 60_000, 1000);
    await airflow.call("DELETE", `/dags/promote_model/dagRuns/${encodeURIComponent(run.dag_run_id)}`);
  });

  it("takes the screenshots of the DAG list, which shows every DAG, and of each DAG's graph", async function () {
    this.timeout(5 * 60_000);
    // Every DAG the DAG folder defines, as the REST API sees them: with no import error, none is missing.
    const { import_errors } = await airflow.call<{ import_errors: unknown[] }>("GET", "/importErrors");
    expect(import_errors, "import errors of the DAG folder").to.deep.equal([]);
    const dagIds = await airflow.dagIds();
    expect(dagIds).to.include.members([...Object.keys(expected), "promote_model"]);

    await inScreenshotDir(async (outDir) => {
      const started = Date.now();
      const shots = await takeScreenshots({
        url: stack.airflowUrl,
        user: stack.env.AIRFLOW_ADMIN_USER ?? "admin",
        password: stack.env.AIRFLOW_ADMIN_PASSWORD ?? "",
        dags: dagIds.map((dagId) => ({ dagId, runId: lastRun[dagId] })),
        outDir,
      });
      expect(shots.files.map((f) => basename(f))).to.deep.equal(["dag-list.png", ...dagIds.map((id) => `graph-${id}.png`)]);
      // The list's picture holds every DAG whole, however many there are (the viewport grows to fit them).
      expect([...shots.dagList.visible].sort(), "DAGs wholly inside dag-list.png").to.deep.equal([...dagIds].sort());
      expect(shots.dagList.countShown, "the DAG count the list shows").to.equal(dagIds.length);
      for (const file of shots.files) {
        const height = file === shots.dagList.file ? shots.dagList.height : VIEWPORT.height;
        await checkPng(file, started, { width: VIEWPORT.width, height });
      }
    });
  });
});
