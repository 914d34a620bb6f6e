import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, dataPaths, profileColumn, readCsv, toFrame } from "@airflow-ml-dags/common";
import { DEFAULT_HYPERPARAMS, loadModel, saveModel, trainModel, type Family } from "@airflow-ml-dags/model";
import { expect } from "chai";
import { computeMetrics } from "@airflow-ml-dags/model/metrics";
import { scoreFile } from "../src/score.ts";
import { type Run, runValidate, syntheticFrame, writeFrameCsv } from "./helpers.ts";
import { closedPort } from "../../model/test/cli.ts";

const DS = "2026-03-02";
const MODEL_DS = "2026-02-23";

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** A failed run: the exit code, nothing on stdout, and one error line (the last) naming the file. */
function expectFailure(run: Run, code: number, file: string, problem: RegExp): void {
  expect(run.code, run.stderr).to.equal(code);
  expect(run.stdout).to.equal("");
  const errors = run.logs.filter((l) => l.level === "error");
  expect(errors, run.stderr).to.have.length(1);
  expect(run.logs[run.logs.length - 1]).to.equal(errors[0]);
  expect(errors[0]?.msg).to.include(file);
  expect(errors[0]?.msg).to.match(problem);
}

describe("validate CLI", function () {
  // Each run is a fresh Node process that loads tfjs.
  this.timeout(120_000);

  let root: string;
  /** Trained once, copied into each test's data folder. */
  const models: Partial<Record<Family, string>> = {};

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "validate-test-"));
    const train = syntheticFrame(300, "train");
    const quiet = createLogger("test", () => {});
    for (const family of ["logreg", "tree"] as const) {
      const trained = await trainModel(train, { ...DEFAULT_HYPERPARAMS, family, epochs: 10, batch_size: 32, max_depth: 4 }, quiet);
      models[family] = join(root, "trained", family);
      await saveModel(models[family] as string, trained, { ds: MODEL_DS, dataSha256: "0".repeat(64) });
      trained.dispose();
    }
  });

  after(() => rm(root, { recursive: true, force: true }));

  let caseNo = 0;
  /** A data folder with the validation split of DS and, unless told otherwise, a model in models/DS. */
  async function dataDir(opts: { family?: Family | null; val?: string } = {}) {
    const dir = join(root, `case-${++caseNo}`);
    const paths = dataPaths(dir, DS);
    const family = opts.family === undefined ? "logreg" : opts.family;
    if (family) await cp(models[family] as string, paths.modelDir, { recursive: true });
    if (opts.val !== undefined) {
      await mkdir(paths.processedDir, { recursive: true });
      await writeFile(paths.val, opts.val);
    } else {
      await writeFrameCsv(paths.val, syntheticFrame(120, "val"));
    }
    return { dir, paths, metricsPath: join(paths.modelDir, "metrics.json") };
  }

  it("scores a file larger than one read batch as the whole file at once, and notices a file changed between reads", async () => {
    const { paths } = await dataDir();
    await writeFrameCsv(paths.val, syntheticFrame(20_000, "large"));
    const model = await loadModel(paths.modelDir);
    try {
      const scored = await scoreFile(model, paths.val);
      const frame = toFrame(await readCsv(paths.val), { expected: model.columns, withTarget: true });
      expect([...scored.y]).to.deep.equal([...(frame.target as Uint8Array)]);
      expect([...scored.p]).to.deep.equal([...model.predictProba(frame)]);
      // The gate's second read must see the rows the candidate was scored on.
      const before = Uint8Array.from(scored.y, (v, i) => (i === 12_345 ? 1 - v : v));
      let caught: unknown;
      try {
        await scoreFile(model, paths.val, before);
      } catch (err) {
        caught = err;
      }
      expect((caught as Error | undefined)?.message).to.equal(`${paths.val}: changed while it was being read`);
    } finally {
      model.dispose();
    }
  });

  it("writes metrics.json next to the model, equal to a recomputation", async () => {
    const { dir, paths, metricsPath } = await dataDir();
    const run = await runValidate(["validate", "--data-dir", dir, "--ds", DS]);
    expect(run.code, run.stderr).to.equal(0);

    const written = JSON.parse(await readFile(metricsPath, "utf8"));
    const model = await loadModel(paths.modelDir);
    const frame = toFrame(await readCsv(paths.val), { expected: model.columns, withTarget: true });
    const prob = model.predictProba(frame);
    model.dispose();
    // Without MLflow, registry is null: the key is there, so every metrics.json has one shape.
    const expected = {
      ds: MODEL_DS,
      family: "logreg",
      val_ds: DS,
      ...computeMetrics(frame.target as Uint8Array, prob, 0.5),
      registry: null,
      scores: profileColumn(prob),
    };
    expect(written).to.deep.equal(expected);
    // The scores' profile: every validation row's probability, from the smallest to the largest.
    const sorted = [...prob].sort((a, b) => a - b);
    expect(written.scores).to.include({ count: 120, missing: 0 });
    expect(written.scores.quantiles).to.have.length(101);
    expect(written.scores.quantiles[0]).to.equal(sorted[0]);
    expect(written.scores.quantiles[100]).to.equal(sorted[119]);
    // p = 0.5 sits at index 59.5: halfway between the 60th and 61st probabilities.
    expect(written.scores.quantiles[50]).to.be.closeTo(((sorted[59] as number) + (sorted[60] as number)) / 2, 1e-15);

    // Independent of the metrics module: counts from the probabilities, and a model that learned something.
    let correct = 0;
    prob.forEach((q, i) => {
      if ((q >= 0.5 ? 1 : 0) === frame.target?.[i]) correct++;
    });
    expect(written.accuracy).to.equal(correct / 120);
    expect(written.rows).to.equal(120);
    const cm = written.confusion_matrix;
    expect(cm.tn + cm.fp + cm.fn + cm.tp).to.equal(120);
    expect(written.roc_auc).to.be.greaterThan(0.8);

    const result = JSON.parse(run.stdout.trimEnd().split("\n").pop() as string);
    expect(result).to.include({ status: "ok", stage: "validate", ds: DS, model_dir: paths.modelDir, decision: null, version: null });
    expect(result.outputs).to.deep.equal([metricsPath]);
    expect(result.metrics).to.deep.equal(written);
    expect(result).to.include({ pending_approval: false, train_rows: 300 });
    expect(run.logs.every((l) => l.level !== "error")).to.equal(true);
    expect(run.logs.filter((l) => /^MLflow off: MLFLOW_TRACKING_URI is not set/.test(l.msg))).to.have.length(1);
  });

  it("takes --model-dir relative to the data folder and --threshold", async () => {
    const { dir, paths } = await dataDir({ family: null });
    await cp(models.tree as string, join(dir, "models", "candidate"), { recursive: true });
    const run = await runValidate(["validate", "--data-dir", dir, "--ds", DS, "--model-dir", "models/candidate", "--threshold", "0.3"]);
    expect(run.code, run.stderr).to.equal(0);
    const written = JSON.parse(await readFile(join(dir, "models", "candidate", "metrics.json"), "utf8"));
    expect(written).to.include({ ds: MODEL_DS, family: "tree", val_ds: DS, threshold: 0.3, rows: 120 });
    expect(await exists(paths.modelDir)).to.equal(false);
  });

  it("fails on a missing val.csv and writes no metrics.json", async () => {
    const { dir, paths, metricsPath } = await dataDir();
    await rm(paths.val);
    const run = await runValidate(["validate", "--data-dir", dir, "--ds", DS]);
    expectFailure(run, 1, paths.val, /file not found/);
    expect(await exists(metricsPath)).to.equal(false);
  });

  it("fails on a val.csv whose columns are not the model's and keeps the old metrics.json", async () => {
    const { dir, paths, metricsPath } = await dataDir({
      val: "id,f00,f01,f02,f09,target\na,0.1,0.2,0.3,0.4,1\nb,0.5,0.6,0.7,0.8,0\n",
    });
    await writeFile(metricsPath, "old\n");
    const run = await runValidate(["validate", "--data-dir", dir, "--ds", DS]);
    expectFailure(run, 1, paths.val, /missing columns f03; unexpected columns f09/);
    expect(await readFile(metricsPath, "utf8")).to.equal("old\n");
  });

  it("fails on a target that is not 0/1, naming the row", async () => {
    const { dir, paths, metricsPath } = await dataDir({
      val: "id,f00,f01,f02,f03,target\na,0.1,0.2,0.3,0.4,1\nb,0.5,0.6,0.7,0.8,2\n",
    });
    const run = await runValidate(["validate", "--data-dir", dir, "--ds", DS]);
    expectFailure(run, 1, paths.val, /row 3, column "target": target must be 0 or 1, got "2"/);
    expect(await exists(metricsPath)).to.equal(false);
  });

  it("fails on a missing model folder", async () => {
    const { dir, paths, metricsPath } = await dataDir({ family: null });
    const run = await runValidate(["validate", "--data-dir", dir, "--ds", DS]);
    expectFailure(run, 1, paths.modelDir, /model folder not found/);
    expect(await exists(metricsPath)).to.equal(false);
  });

  it("exits 2 on a bad command line", async () => {
    const { dir, metricsPath } = await dataDir();
    const cases: [string[], string, RegExp][] = [
      [["validate", "--threshold", "1.5"], "--threshold", /expected a number in \[0, 1\], got 1.5/],
      [["validate", "--gate-metric", "speed"], "--gate-metric", /expected one of roc_auc, accuracy, precision, recall, f1, log_loss/],
      [["validate", "--gate-margin=-0.1"], "--gate-margin", /expected a number in \[0, inf\]/],
      [["validate", "--registered-model", "a/b"], "--registered-model", /not a usable registered model name/],
      [["validate", "--approval", "auto"], "--approval", /expected one of required, gate, got "auto"/],
      [["validate", "--approval-timeout-days", "0"], "--approval-timeout-days", /expected a number in \(0, 90\], got 0/],
      // The form before subcommands existed must fail loudly, not validate something else.
      [["--ds", DS], "unknown command", /"--ds", expected one of validate, promote/],
    ];
    for (const [args, file, problem] of cases) {
      const run = await runValidate([...args, "--data-dir", dir, "--ds", DS]);
      expectFailure(run, 2, file, problem);
    }
    expect(await exists(metricsPath)).to.equal(false);
  });

  describe("with MLFLOW_TRACKING_URI set", () => {
    it("refuses a model trained without MLflow, naming its manifest, and writes no metrics.json", async () => {
      const { dir, paths, metricsPath } = await dataDir();
      // The run id check comes first, so no server is needed to see it.
      const run = await runValidate(["validate", "--data-dir", dir, "--ds", DS], { MLFLOW_TRACKING_URI: `http://127.0.0.1:${await closedPort()}` });
      expectFailure(run, 1, join(paths.modelDir, "manifest.json"), /has no MLflow "runId": the model was trained without MLFLOW_TRACKING_URI/);
      expect(await exists(metricsPath)).to.equal(false);
    });

    it("MLflow unreachable: exit 1, one line naming the run, metrics.json left as it was", async () => {
      const { dir, paths, metricsPath } = await dataDir();
      const manifestPath = join(paths.modelDir, "manifest.json");
      const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
      await writeFile(manifestPath, JSON.stringify({ ...manifest, runId: "0123456789abcdef", experimentId: "1" }));
      await writeFile(metricsPath, "old\n");
      const uri = `http://127.0.0.1:${await closedPort()}`;
      const run = await runValidate(["validate", "--data-dir", dir, "--ds", DS], { MLFLOW_TRACKING_URI: uri });
      expectFailure(run, 1, "runs:/0123456789abcdef", new RegExp(`MLflow unreachable at ${uri} \\(ECONNREFUSED\\)$`));
      expect(await readFile(metricsPath, "utf8")).to.equal("old\n");
    });
  });
});

describe("promote CLI", function () {
  this.timeout(60_000);

  it("needs MLFLOW_TRACKING_URI: exit 1, one line naming it", async () => {
    const run = await runValidate(["promote", "--version", "2"]);
    expectFailure(run, 1, "MLFLOW_TRACKING_URI", /not set/);
  });

  it("MLflow unreachable: exit 1, one line naming the version", async () => {
    const uri = `http://127.0.0.1:${await closedPort()}`;
    const run = await runValidate(["promote", "--version", "3", "--registered-model", "clf"], { MLFLOW_TRACKING_URI: uri });
    expectFailure(run, 1, "models:/clf/3", new RegExp(`MLflow unreachable at ${uri}`));
  });

  it("exits 2 on a bad command line", async () => {
    const cases: [string[], string, RegExp][] = [
      [[], "--version", /is required/],
      [["--version", "0"], "--version", /expected an integer in \[1, inf\]/],
      [["--version", "1.5"], "--version", /expected an integer/],
      [["--version", "1", "--alias", "prod uction"], "--alias", /expected letters, digits/],
      [["--version", "1", "--gate-metric", "f1"], "--gate-metric", /Unknown option/],
      [["--ds", DS], "--approved-by", /is required/],
      [["--ds", DS, "--approved-by", "ann", "--alias", "staging"], "--alias", /an approval moves "production" only/],
      [["--ds", DS, "--approved-by", "ann", "--decided-at", "yesterday"], "--decided-at", /expected an ISO 8601 time/],
    ];
    for (const [args, file, problem] of cases) expectFailure(await runValidate(["promote", ...args]), 2, file, problem);
  });
});

describe("promote --ds and reject: a reviewer's decision on the version validate left pending", function () {
  this.timeout(60_000);

  let dir: string;
  let metricsPath: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "validate-decision-"));
    metricsPath = join(dataPaths(dir, DS).modelDir, "metrics.json");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  // The file and MLflow checks come before any MLflow call, so an unreachable server shows which one failed.
  const env = async () => ({ MLFLOW_TRACKING_URI: `http://127.0.0.1:${await closedPort()}` });

  it("fails on a missing metrics.json, naming it", async () => {
    for (const args of [["promote", "--approved-by", "ann"], ["reject", "--rejected-by", "ann"]]) {
      const run = await runValidate([...args, "--ds", DS, "--data-dir", dir], await env());
      expectFailure(run, 1, metricsPath, /file not found: validate writes it/);
    }
  });

  it("refuses a metrics.json without a registry block (validate ran with MLflow off) and leaves it as it was", async () => {
    await mkdir(dataPaths(dir, DS).modelDir, { recursive: true });
    const text = `${JSON.stringify({ ds: MODEL_DS, registry: null })}\n`;
    await writeFile(metricsPath, text);
    const run = await runValidate(["reject", "--ds", DS, "--rejected-by", "ann", "--data-dir", dir], await env());
    expectFailure(run, 1, metricsPath, /registry: no registered version with an approval record/);
    expect(await readFile(metricsPath, "utf8")).to.equal(text);
  });

  it("refuses a --version that is not the pending one before it asks MLflow anything", async () => {
    const registry = { name: "clf", version: "4", decision: "pending", approval: { mode: "required", status: "pending", timeout_days: 7 } };
    await writeFile(metricsPath, JSON.stringify({ ds: MODEL_DS, registry }));
    const run = await runValidate(["promote", "--ds", DS, "--approved-by", "ann", "--version", "3", "--data-dir", dir], await env());
    expectFailure(run, 1, metricsPath, /the pending version is 4, not --version 3/);
  });

  it("reaches MLflow with the pending version, naming it when MLflow is unreachable", async () => {
    const e = await env();
    const run = await runValidate(["reject", "--ds", DS, "--rejected-by", "ann", "--data-dir", dir], e);
    expectFailure(run, 1, "models:/clf/4", new RegExp(`MLflow unreachable at ${e.MLFLOW_TRACKING_URI}`));
  });

  it("exits 2 on a bad command line", async () => {
    const cases: [string[], string, RegExp][] = [
      [[], "--ds", /is required/],
      [["--ds", DS], "--rejected-by", /is required/],
      [["--ds", "2026-13-01", "--rejected-by", "ann"], "--ds", /./],
      [["--ds", DS, "--rejected-by", "ann", "--approved-by", "bob"], "--approved-by", /Unknown option/],
      [["--ds", DS, "--rejected-by", "ann", "--ended-by", "nobody"], "--ended-by", /expected one of reviewer, timeout/],
    ];
    for (const [args, file, problem] of cases) expectFailure(await runValidate(["reject", ...args, "--data-dir", dir]), 2, file, problem);
  });
});
