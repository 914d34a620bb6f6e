// The model registry scenario on the real images and a real MLflow server, both on one user-defined Docker
// network as in the deployment: week 1 trains version 1, which becomes production; week 2 trains a worse
// model, which the quality gate rejects, so predict keeps scoring with version 1; then the manual path
// promotes version 2 and rolls back to version 1; then monitor logs days to each version's monitoring run;
// then two better weeks wait for a person under approval=required, one approved and one rejected.
import { expect } from "chai";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MlflowClient } from "../../../images/common/src/mlflow.ts";
import { docker } from "../../../images/common/test/integration/server.ts";
import { expectMonitored, monitorArgs, type Report } from "./monitoring.ts";
import {
  CONTRACT,
  type MlflowOnNetwork,
  type Stage,
  type StageRun,
  exists as existsIn,
  image,
  lastDays,
  makeDataDir,
  removeDir,
  runStage,
  startMlflowOnNetwork,
  theErrorLine,
} from "./support.ts";

const NAME = "airflow-ml-dags-classifier";
const PRODUCTION = `models:/${NAME}@production`;
const WEEK1 = "2026-11-20";
const WEEK2 = "2026-11-27";
const WEEK3 = "2026-12-04";
const WEEK4 = "2026-12-11";
const ROWS_PER_DAY = "1000";

/** The 7 days ending at `ds`, oldest first. */
const week = (ds: string) => lastDays(ds, 7);

/** Where monitor logs (no MLFLOW_EXPERIMENT_NAME is set here, so the contract's experiment name is the base). */
const MONITORING_EXPERIMENT = `${CONTRACT.names.experiment}-monitoring`;
/** Each metric a monitored day logs, and where the report holds it. */
const DAY_METRICS: Record<string, (r: Report) => number | null> = {
  monitor_roc_auc: (r) => r.quality.roc_auc,
  monitor_log_loss: (r) => r.quality.log_loss,
  monitor_accuracy: (r) => r.quality.accuracy,
  monitor_max_psi: (r) => Math.max(...Object.values(r.drift.features).map((f) => f.psi ?? -Infinity)),
  monitor_scores_psi: (r) => r.drift.scores.psi,
};
/** A day's point on the charts across days: step = days since 1970, at midnight UTC of the day. */
const midnight = (ds: string) => Date.parse(`${ds}T00:00:00Z`);
const dayStep = (ds: string) => midnight(ds) / 86_400_000;

describe("model registry: quality gate, predict from the registry, manual promote and roll back", function () {
  let mlflow: MlflowOnNetwork | undefined;
  let client: MlflowClient;
  let dataDir = "";
  let digests = "";
  const runIds: Record<string, string> = {};

  const run = (stage: Stage, args: string[], trackingUri = mlflow?.networkUri ?? ""): Promise<StageRun> =>
    runStage(stage, args, {
      dataDir,
      ...(mlflow ? { network: mlflow.network } : {}),
      env: { MLFLOW_TRACKING_URI: trackingUri, AML_IMAGE: image(stage), AML_IMAGE_DIGESTS: digests },
    });

  const readJson = async (path: string) => JSON.parse(await readFile(join(dataDir, path), "utf8"));
  const exists = (path: string) => existsIn(dataDir, path);

  /** generate → prepare --days 7 → split for the week ending at `ds`, as the DAGs run them. */
  async function prepareWeek(ds: string): Promise<void> {
    for (const day of week(ds)) (await run("generate", ["--ds", day, "--rows", ROWS_PER_DAY])).result();
    (await run("prepare", ["prepare", "--ds", ds, "--days", "7"])).result();
    (await run("prepare", ["split", "--ds", ds])).result();
  }

  async function predictWith(ref: string, ds = WEEK2) {
    const res = (await run("predict", ["--ds", ds, "--model", ref])).result();
    return { res, manifest: await readJson(`predictions/${ds}/manifest.json`) };
  }

  before(async function () {
    this.timeout(300_000);
    // Task containers run as the unprivileged `node` user; the host folder lets it write.
    dataDir = await makeDataDir("registry");
    mlflow = await startMlflowOnNetwork("registry-scenario");
    client = new MlflowClient(mlflow.server.uri);
    // What a deployment passes so each version records its images; local images have no registry
    // digest, so their content ids stand in.
    const ids: Record<string, string> = {};
    for (const stage of ["train", "validate"]) ids[stage] = await docker("image", "inspect", "--format", "{{.Id}}", image(stage));
    digests = JSON.stringify(ids);
  });

  after(async function () {
    this.timeout(120_000);
    if (mlflow) await mlflow.stop();
    await removeDir(dataDir);
  });

  it("week 1: train logs the run, validate registers version 1 and makes it production (first version)", async () => {
    await prepareWeek(WEEK1);
    const trained = (await run("train", ["--ds", WEEK1])).result();
    const manifest = await readJson(`models/${WEEK1}/manifest.json`);
    expect(trained.runId).to.be.a("string").and.equal(manifest.runId);
    expect(manifest.experimentId).to.equal(trained.experimentId);
    runIds[WEEK1] = manifest.runId;

    const validated = (await run("validate", ["validate", "--ds", WEEK1])).result();
    expect(validated).to.include({ decision: "promoted", version: "1" });
    const metrics = await readJson(`models/${WEEK1}/metrics.json`);
    expect(metrics.registry).to.deep.equal({
      name: NAME,
      version: "1",
      decision: "promoted",
      reason: "first version",
      metric: "roc_auc",
      margin: 0,
      production_version: null,
      candidate: metrics.roc_auc,
      production: null,
      production_metrics: null,
      run_id: manifest.runId,
      experiment_id: manifest.experimentId,
      // The first version is never held for a person, even under approval=required (the default).
      approval: { mode: "required", status: "not_needed", timeout_days: null },
    });
    expect(metrics.roc_auc).to.be.greaterThan(0.65);

    // The run, read back through the client: params, per-epoch loss, val_ metrics, the model artifacts.
    const mlRun = await client.getRun(manifest.runId);
    expect(mlRun.info).to.include({ runName: `train-${WEEK1}`, status: "FINISHED" });
    expect(mlRun.params).to.include({
      family: "mlp",
      epochs: "20",
      learning_rate: "0.01",
      batch_size: "64",
      hidden: "32",
      l2: "0",
      max_depth: "6",
      min_samples: "5",
      seed: "42",
      ds: WEEK1,
      train_rows: String(manifest.rows),
      data_sha256: manifest.dataSha256,
      data_from: week(WEEK1)[0],
      data_to: WEEK1,
      data_days: "7",
    });
    expect(Number(mlRun.params.train_positive_rate)).to.equal(manifest.positiveRate);
    expect(mlRun.tags).to.include({ ds: WEEK1, family: "mlp", image: image("train"), git_sha: manifest.gitSha });
    const loss = await client.getMetricHistory(manifest.runId, "loss");
    expect(loss.map((m) => m.step)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(loss.map((m) => m.value)).to.deep.equal(manifest.history.losses);
    for (const key of ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "rows"]) {
      expect(mlRun.metrics[`val_${key}`], `val_${key}`).to.equal(metrics[key]);
    }
    const artifacts = await client.listArtifacts(manifest.runId, "model");
    expect(artifacts.map((a) => a.path)).to.have.members(manifest.files);
    const downloaded = await mkdtemp(join(tmpdir(), "aml-registry-artifacts-"));
    try {
      await client.downloadArtifacts(manifest.runId, "model", join(downloaded, "model"));
      for (const file of manifest.files as string[]) {
        const local = await readFile(join(dataDir, `models/${WEEK1}`, file));
        expect((await readFile(join(downloaded, "model", file))).equals(local), file).to.equal(true);
      }
    } finally {
      await rm(downloaded, { recursive: true, force: true });
    }

    const production = await client.getModelVersionByAlias(NAME, "production");
    expect(production).to.include({ version: "1", runId: manifest.runId });
    expect(production.tags).to.include({
      ds: WEEK1,
      data_sha256: manifest.dataSha256,
      git_sha: manifest.gitSha,
      image_digests: digests,
      promoted_by: "gate",
      promotion_reason: "first version",
      gate_decision: "promoted",
      gate_metric: "roc_auc",
    });
    expect(production.tags).to.not.have.property("rejected");
  });

  it("week 2: a clearly worse model is registered as version 2 and rejected; production stays version 1", async () => {
    await prepareWeek(WEEK2);
    const trained = (await run("train", ["--ds", WEEK2, "--family", "logreg", "--epochs", "1", "--learning-rate", "0.00001"])).result();
    runIds[WEEK2] = trained.runId as string;
    const validated = (await run("validate", ["validate", "--ds", WEEK2])).result();
    expect(validated).to.include({ decision: "rejected", version: "2" });

    const { registry } = await readJson(`models/${WEEK2}/metrics.json`);
    expect(registry).to.include({ name: NAME, version: "2", decision: "rejected", production_version: "1", metric: "roc_auc" });
    expect(registry.candidate).to.be.lessThan(registry.production);
    expect(registry.reason).to.match(/^roc_auc [\d.]+ < [\d.]+ \(production version 1\) \+ margin 0$/);

    const v2 = await client.getModelVersion(NAME, 2);
    expect(v2.runId).to.equal(runIds[WEEK2]);
    expect(v2.tags).to.include({ rejected: registry.reason, gate_decision: "rejected", gate_production_version: "1", ds: WEEK2 });
    expect(Number(v2.tags.gate_roc_auc)).to.equal(registry.candidate);
    expect(Number(v2.tags.gate_production_roc_auc)).to.equal(registry.production);
    expect(v2.aliases).to.deep.equal([]);
    expect((await client.getModelVersionByAlias(NAME, "production")).version).to.equal("1");
    // A version the gate rejects is never put before a person, although approval=required is the default.
    expect(registry.approval).to.deep.equal({ mode: "required", status: "not_needed", timeout_days: null });
    expect(v2.tags).to.not.have.property("approval");

    // The gate scored version 1 on week 2's rows: validating the week 1 folder on them, without MLflow, agrees.
    const offline = (await run("validate", ["validate", "--ds", WEEK2, "--model-dir", `models/${WEEK1}`], "")).result();
    expect((offline.metrics as Record<string, unknown>).roc_auc).to.equal(registry.production);
    expect(offline).to.include({ decision: null, version: null });
  });

  it(`predict with ${PRODUCTION} scores with version 1 and says so in its manifest`, async () => {
    const fromFolder = await predictWith(`models/${WEEK1}`);
    expect(fromFolder.manifest).to.include({ model_version: null, run_id: runIds[WEEK1] });
    const folderPredictions = await readFile(join(dataDir, `predictions/${WEEK2}/predictions.csv`));

    const { res, manifest } = await predictWith(PRODUCTION);
    expect(manifest).to.deep.equal({
      ds: WEEK2,
      model_ref: PRODUCTION,
      model: PRODUCTION,
      model_version: "1",
      run_id: runIds[WEEK1],
      model_ds: WEEK1,
      family: "mlp",
      rows: Number(ROWS_PER_DAY),
      threshold: 0.5,
    });
    expect(res).to.include({ modelVersion: "1", modelDir: null });
    // The same model, whether read from its folder or from the registry.
    expect((await readFile(join(dataDir, `predictions/${WEEK2}/predictions.csv`))).equals(folderPredictions)).to.equal(true);
  });

  it("promote --version 2 moves the alias by hand, and predict then uses version 2", async () => {
    const promoted = (await run("validate", ["promote", "--version", "2", "--reason", "scenario: manual override"])).result();
    expect(promoted).to.include({ stage: "promote", name: NAME, alias: "production", version: "2", previous_version: "1" });
    expect((await client.getModelVersionByAlias(NAME, "production")).version).to.equal("2");
    const v2 = await client.getModelVersion(NAME, 2);
    expect(v2.tags).to.include({ promoted_by: "manual", promotion_reason: "scenario: manual override", promoted_from: "1" });

    const { manifest } = await predictWith(PRODUCTION);
    expect(manifest).to.include({ model_version: "2", run_id: runIds[WEEK2], model_ds: WEEK2, family: "logreg" });
  });

  it("promote --version 1 rolls back, and predict uses version 1 again", async () => {
    const rolledBack = (await run("validate", ["promote", "--version", "1"])).result();
    expect(rolledBack).to.include({ version: "1", previous_version: "2" });
    const production = await client.getModelVersionByAlias(NAME, "production");
    expect(production.version).to.equal("1");
    expect(production.tags).to.include({ promoted_by: "manual", promotion_reason: "manual promotion", promoted_from: "2" });
    expect((await predictWith(PRODUCTION)).manifest).to.include({ model_version: "1", run_id: runIds[WEEK1] });
  });

  describe("monitor on the registry: one MLflow run per model version, one point per day", () => {
    /** Two days scored by production (version 1 again), and a day scored by version 2 by its number. */
    const V1_DAYS = [week(WEEK2)[5] as string, WEEK2];
    const V2_DAY = week(WEEK2)[4] as string;
    const reports: Record<string, Report> = {};
    let runV1 = "";

    const monitor = async (ds: string) => {
      const result = (await run("monitor", monitorArgs(ds))).result();
      reports[ds] = await expectMonitored(dataDir, ds, result);
      expect(result.mlflow_run_id, "the run it logged to").to.be.a("string");
      return result.mlflow_run_id as string;
    };

    /** Every active run of the monitoring experiment, by name (the client has no search; the REST API has). */
    async function monitoringRuns(): Promise<{ name: string; id: string }[]> {
      const experiment = await client.getExperimentByName(MONITORING_EXPERIMENT);
      expect(experiment, MONITORING_EXPERIMENT).to.not.equal(undefined);
      const res = await fetch(`${mlflow?.server.uri}/api/2.0/mlflow/runs/search`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ experiment_ids: [experiment?.experimentId], run_view_type: "ACTIVE_ONLY", max_results: 100 }),
      });
      expect(res.status).to.equal(200);
      const body = (await res.json()) as { runs?: { info: { run_id: string; run_name: string } }[] };
      return (body.runs ?? []).map((r) => ({ name: r.info.run_name, id: r.info.run_id }));
    }

    /** Each day metric's points, as MLflow returns them. */
    const histories = async (runId: string) =>
      Object.fromEntries(await Promise.all(Object.keys(DAY_METRICS).map(async (k) => [k, await client.getMetricHistory(runId, k)] as const)));

    /** The points the reports of `days` call for, in the order MLflow keeps them (by step). */
    const expectedPoints = (days: string[]) =>
      Object.fromEntries(
        Object.entries(DAY_METRICS).map(([key, of]) => [
          key,
          [...days].sort().map((ds) => ({ key, value: of(reports[ds] as Report), step: dayStep(ds), timestamp: midnight(ds) })),
        ]),
      );

    /** The run's report pages: one per day under reports/{ds}/, each the very page the data folder holds. */
    async function expectPages(runId: string, days: string[]): Promise<void> {
      const listed = await client.listArtifacts(runId, "reports", { recursive: true });
      expect(listed.map((a) => a.path)).to.have.members(days.map((ds) => `${ds}/report.html`));
      const downloaded = await mkdtemp(join(tmpdir(), "aml-monitor-artifacts-"));
      try {
        await client.downloadArtifacts(runId, "reports", join(downloaded, "reports"));
        for (const ds of days) {
          const page = await readFile(join(downloaded, "reports", ds, "report.html"));
          expect(page.equals(await readFile(join(dataDir, `monitoring/${ds}/report.html`))), ds).to.equal(true);
        }
      } finally {
        await rm(downloaded, { recursive: true, force: true });
      }
    }

    it(`two days scored by version 1 go to the run monitor-v1 of ${MONITORING_EXPERIMENT}, each at its day's step`, async () => {
      for (const ds of V1_DAYS) expect((await predictWith(PRODUCTION, ds)).manifest).to.include({ model_version: "1" });
      const ids = [];
      for (const ds of V1_DAYS) ids.push(await monitor(ds));
      runV1 = ids[0] as string;
      expect(ids[1], "the second day logs to the first day's run").to.equal(runV1);
      expect(await monitoringRuns()).to.deep.equal([{ name: "monitor-v1", id: runV1 }]);

      const mlRun = await client.getRun(runV1);
      expect(mlRun.info).to.include({ runName: "monitor-v1", status: "FINISHED" });
      const last = reports[WEEK2] as Report;
      expect(mlRun.tags).to.include({
        model_version: "1",
        model_ds: WEEK1,
        registered_model: NAME,
        image: image("monitor"),
        last_ds: WEEK2,
        last_verdict: last.verdict,
      });
      expect(await histories(runV1)).to.deep.equal(expectedPoints(V1_DAYS));
      // The latest value of each metric is the last day's.
      for (const [key, of] of Object.entries(DAY_METRICS)) expect(mlRun.metrics[key], key).to.equal(of(last));
      await expectPages(runV1, V1_DAYS);
    });

    it("a rerun of a day logs into the same run and adds no point; its page is still the one on disk", async () => {
      const before = await histories(runV1);
      expect(await monitor(WEEK2)).to.equal(runV1);
      expect(await monitoringRuns()).to.deep.equal([{ name: "monitor-v1", id: runV1 }]);
      expect(await histories(runV1)).to.deep.equal(before);
      expect(await histories(runV1)).to.deep.equal(expectedPoints(V1_DAYS));
      await expectPages(runV1, V1_DAYS);
    });

    it("a day scored by version 2 gets a run of its own, monitor-v2", async () => {
      expect((await predictWith(`models:/${NAME}/2`, V2_DAY)).manifest).to.include({ model_version: "2" });
      const runV2 = await monitor(V2_DAY);
      expect(runV2).to.not.equal(runV1);
      expect(await monitoringRuns()).to.have.deep.members([
        { name: "monitor-v1", id: runV1 },
        { name: "monitor-v2", id: runV2 },
      ]);
      expect((await client.getRun(runV2)).tags).to.include({ model_version: "2", model_ds: WEEK2, registered_model: NAME, last_ds: V2_DAY });
      expect(await histories(runV2)).to.deep.equal(expectedPoints([V2_DAY]));
      // Version 1's run is left as it was.
      expect(await histories(runV1)).to.deep.equal(expectedPoints(V1_DAYS));
      await expectPages(runV2, [V2_DAY]);
    });
  });

  describe("failures in real containers: exit 1, one error line, nothing written", () => {
    const lastError = (r: StageRun) => {
      expect(r.code).to.equal(1);
      return theErrorLine(r);
    };

    it("train with MLflow unreachable (a closed port) leaves no model folder", async () => {
      const ds = "2026-11-26";
      (await run("prepare", ["prepare", "--ds", ds])).result();
      (await run("prepare", ["split", "--ds", ds])).result();
      const closed = `http://${mlflow?.alias}:5999`;
      const msg = lastError(await run("train", ["--ds", ds, "--family", "tree"], closed));
      expect(msg).to.equal(`${closed}: MLflow unreachable at ${closed} (ECONNREFUSED)`);
      expect(await exists(`models/${ds}`)).to.equal(false);
      expect(await readdir(join(dataDir, "models"))).to.have.members([WEEK1, WEEK2]);
    });

    it("predict with an alias no version has names it and writes no predictions", async () => {
      const ds = week(WEEK2)[0] as string;
      const ref = `models:/${NAME}@staging`;
      const msg = lastError(await run("predict", ["--ds", ds, "--model", ref]));
      expect(msg).to.equal(`${ref}: no version has alias "staging"`);
      expect(await exists(`predictions/${ds}`)).to.equal(false);
    });

    it("promote of a version that does not exist names it and leaves the alias", async () => {
      const msg = lastError(await run("validate", ["promote", "--version", "9"]));
      expect(msg).to.match(new RegExp(`^models:/${NAME}/9: MLflow model-versions/get failed: HTTP 404 RESOURCE_DOES_NOT_EXIST`));
      expect((await client.getModelVersionByAlias(NAME, "production")).version).to.equal("1");
    });
  });
  describe("approval=required: a version the gate passes over production waits for a person's decision", () => {
    const APPROVED_AT = "2026-12-05T09:30:00.000Z";
    const REJECTED_AT = "2026-12-12T16:05:00.000Z";
    const PENDING = { mode: "required", status: "pending", timeout_days: 7 };

    /** Trains the week's default model and validates it under the contract's defaults (approval=required). */
    async function trainAndValidate(ds: string) {
      await prepareWeek(ds);
      runIds[ds] = (await run("train", ["--ds", ds])).result().runId as string;
      return (await run("validate", ["validate", "--ds", ds])).result();
    }

    /** Everything a decision may change: the alias, both versions' tags, both runs' tags, both metrics.json files. */
    const snapshot = async () => ({
      production: (await client.getModelVersionByAlias(NAME, "production")).version,
      v3: (await client.getModelVersion(NAME, 3)).tags,
      v4: (await client.getModelVersion(NAME, 4)).tags,
      run3: (await client.getRun(runIds[WEEK3] as string)).tags,
      run4: (await client.getRun(runIds[WEEK4] as string)).tags,
      metrics3: await readJson(`models/${WEEK3}/metrics.json`),
      metrics4: await readJson(`models/${WEEK4}/metrics.json`),
    });

    for (const [ds, version] of [[WEEK3, "3"], [WEEK4, "4"]] as const) {
      it(`${ds}: a better model becomes version ${version}, pending; production stays version 1`, async () => {
        const validated = await trainAndValidate(ds);
        expect(validated).to.include({ decision: "pending", version, pending_approval: true });

        const metrics = await readJson(`models/${ds}/metrics.json`);
        const { registry } = metrics;
        expect(registry).to.include({ name: NAME, version, decision: "pending", production_version: "1", run_id: runIds[ds] });
        expect(registry.approval).to.deep.equal(PENDING);
        expect(registry.candidate).to.be.at.least(registry.production);
        // The reviewer compares every metric of both models on the same rows.
        expect(registry.production_metrics.roc_auc).to.equal(registry.production);
        expect(registry.production_metrics.rows).to.equal(metrics.rows);

        const v = await client.getModelVersion(NAME, version);
        expect(v.tags).to.include({ approval: "pending", gate_decision: "pending", gate_production_version: "1" });
        expect(v.tags).to.not.have.any.keys("approved_by", "rejected_by", "promoted_by", "rejected");
        expect(v.aliases).to.deep.equal([]);
        expect((await client.getRun(runIds[ds] as string)).tags).to.include({ gate_decision: "pending", approval: "pending" });
        expect((await client.getModelVersionByAlias(NAME, "production")).version).to.equal("1");
      });
    }

    const approve = () =>
      run("validate", ["promote", "--ds", WEEK3, "--approved-by", "ann", "--comment", "better on every metric", "--decided-at", APPROVED_AT]);

    it("promote --ds records ann's approval of version 3: the alias moves, the version, run and metrics.json say who and why", async () => {
      const before = await snapshot();
      const approved = (await approve()).result();
      expect(approved).to.include({ ds: WEEK3, name: NAME, version: "3", decision: "promoted" });
      const approval = { ...PENDING, status: "approved", by: "ann", comment: "better on every metric", at: APPROVED_AT };
      expect(approved.approval).to.deep.equal(approval);

      const production = await client.getModelVersionByAlias(NAME, "production");
      expect(production.version).to.equal("3");
      expect(production.tags).to.include({
        approval: "approved",
        approved_by: "ann",
        approval_comment: "better on every metric",
        approval_at: APPROVED_AT,
        promoted_by: "approval",
        promotion_reason: "better on every metric",
        promoted_from: "1",
      });
      expect(production.tags).to.not.have.any.keys("rejected_by", "rejected");
      expect((await client.getRun(runIds[WEEK3] as string)).tags).to.include({ approval: "approved", approved_by: "ann", approval_at: APPROVED_AT });

      const metrics = await readJson(`models/${WEEK3}/metrics.json`);
      expect(metrics.registry).to.deep.equal({ ...before.metrics3.registry, decision: "promoted", approval });
      // Only the registry block changes: the metrics the reviewer decided on stay as validate wrote them.
      expect({ ...metrics, registry: null }).to.deep.equal({ ...before.metrics3, registry: null });
      // The other pending version is left waiting.
      expect(await client.getModelVersion(NAME, 4)).to.have.nested.property("tags.approval", "pending");
    });

    it("a retried approval (the task run again) changes nothing: same alias, tags, run tags and metrics.json", async () => {
      const before = await snapshot();
      const again = (await approve()).result();
      expect(again).to.include({ version: "3", decision: "promoted" });
      expect(await snapshot()).to.deep.equal(before);
    });

    it("reject records bob's rejection of version 4: tagged rejected and rejected_by, production stays version 3", async () => {
      const rejected = (
        await run("validate", ["reject", "--ds", WEEK4, "--rejected-by", "bob", "--comment", "wait for the holiday data", "--decided-at", REJECTED_AT])
      ).result();
      const approval = { ...PENDING, status: "rejected", by: "bob", comment: "wait for the holiday data", at: REJECTED_AT };
      expect(rejected).to.include({ version: "4", decision: "rejected" });
      expect(rejected.approval).to.deep.equal(approval);

      const v4 = await client.getModelVersion(NAME, 4);
      expect(v4.tags).to.include({
        approval: "rejected",
        rejected_by: "bob",
        rejected: "wait for the holiday data",
        approval_comment: "wait for the holiday data",
        approval_at: REJECTED_AT,
      });
      expect(v4.tags).to.not.have.any.keys("approved_by", "promoted_by");
      expect(v4.aliases).to.deep.equal([]);
      expect((await client.getModelVersionByAlias(NAME, "production")).version).to.equal("3");
      expect((await client.getRun(runIds[WEEK4] as string)).tags).to.include({ approval: "rejected", rejected_by: "bob", approval_at: REJECTED_AT });
      const { registry } = await readJson(`models/${WEEK4}/metrics.json`);
      expect(registry).to.include({ decision: "rejected", reason: "wait for the holiday data" });
      expect(registry.approval).to.deep.equal(approval);
    });

    it("recording the opposite decision is refused with one error line, and nothing changes", async () => {
      const before = await snapshot();
      const cases: [string[], string][] = [
        [["reject", "--ds", WEEK3, "--rejected-by", "bob"], `models:/${NAME}/3: already approved by ann; refusing to record it as rejected`],
        [["promote", "--ds", WEEK4, "--approved-by", "ann"], `models:/${NAME}/4: already rejected by bob; refusing to record it as approved`],
        [["reject", "--ds", WEEK3, "--rejected-by", "timeout", "--ended-by", "timeout"], `models:/${NAME}/3: already approved by ann; refusing to record it as timed out`],
      ];
      for (const [args, message] of cases) {
        const r = await run("validate", args);
        expect(r.code, args.join(" ")).to.equal(1);
        expect(theErrorLine(r)).to.equal(message);
      }
      expect(await snapshot()).to.deep.equal(before);
    });
  });
});
