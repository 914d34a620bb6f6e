import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "chai";
import { FEATURES, dataPaths, readCsv, toFrame } from "@airflow-ml-dags/common";
import { loadModel, saveModel, trainModel } from "@airflow-ml-dags/model";
import { closedPort, expectFailure, runStage, writeFrameCsv } from "../../model/test/cli.ts";
import { quick, tempDir } from "../../model/test/helpers.ts";
import { memoryLogger, synthetic } from "../../model/test/synthetic.ts";

const PKG = resolve(import.meta.dirname, "..");
const TRAINED = "2026-03-01";
const DS = "2026-03-02";
const MODEL = `models/${TRAINED}`;

/** Frames of the contract's raw schema: predict scores nothing else. */
const columns = [...FEATURES];

const exists = (path: string) => stat(path).then(() => true, () => false);

/** predict's temporary model folders; a failed download must not leave one behind. */
const tempModelDirs = async () => (await readdir(tmpdir())).filter((n) => n.startsWith("predict-model-")).sort();

describe("predict CLI", () => {
  let dataDir: string;
  let cleanup: () => Promise<void>;
  const paths = () => dataPaths(dataDir, DS);
  const predict = (ds: string, ...args: string[]) => runStage(PKG, ["--ds", ds, "--data-dir", dataDir, ...args]);
  const predictWith = (env: NodeJS.ProcessEnv, ds: string, ...args: string[]) =>
    runStage(PKG, ["--ds", ds, "--data-dir", dataDir, ...args], env);
  // Ids that do not sort like the rows, and missing cells: the output must keep the data's order and score every row.
  const { target: _, ...data } = synthetic({ rows: 120, seed: "predict-data", missing: 0.1, columns });
  data.ids = data.ids.map((id, i) => `${(i * 7919) % 1000}-${id}`);

  before(async () => {
    ({ dir: dataDir, cleanup } = await tempDir());
    const trained = await trainModel(synthetic({ rows: 300, seed: "predict-train", columns }), quick("mlp"), memoryLogger());
    await saveModel(join(dataDir, MODEL), trained, { ds: TRAINED, dataSha256: "a" });
    trained.dispose();
    await writeFrameCsv(paths().data, data);
  });
  after(() => cleanup());

  it("writes one prediction per row, ids in the data's order, probabilities from the model", async () => {
    const run = await predict(DS, "--model", MODEL);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.result).to.include({
      status: "ok",
      stage: "predict",
      ds: DS,
      rows: 120,
      modelDir: join(dataDir, MODEL),
      modelDs: TRAINED,
      family: "mlp",
      output: paths().predictions,
      modelRef: MODEL,
      modelVersion: null,
      runId: null,
    });
    const manifestPath = join(paths().predictionsDir, "manifest.json");
    expect(run.result.outputs).to.deep.equal([paths().predictions, manifestPath]);
    // A folder has no registry version, and this one was trained without MLflow: no run either.
    expect(JSON.parse(await readFile(manifestPath, "utf8"))).to.deep.equal({
      ds: DS,
      model_ref: MODEL,
      model: MODEL,
      model_version: null,
      run_id: null,
      model_ds: TRAINED,
      family: "mlp",
      rows: 120,
      threshold: 0.5,
    });
    const csv = await readCsv(paths().predictions);
    expect(csv.header).to.deep.equal(["id", "probability", "label"]);
    expect(csv.rows.map((r) => r[0])).to.deep.equal(data.ids);
    // The same model scoring the same file in this process; the CSV keeps 6 decimals.
    const model = await loadModel(join(dataDir, MODEL));
    const expected = model.predictProba(toFrame(await readCsv(paths().data)));
    model.dispose();
    csv.rows.forEach((r, i) => expect(Number(r[1])).to.be.closeTo(expected[i]!, 5e-7));
    const positives = csv.rows.filter((r) => r[2] === "1").length;
    expect(positives).to.be.within(1, 119);
    expect(run.result.positiveRate).to.equal(positives / 120);
  });

  it("takes an absolute model folder too, and labels follow the threshold", async () => {
    const rates: number[] = [];
    for (const threshold of ["0.2", "0.8"]) {
      const run = await predict(DS, "--model", join(dataDir, MODEL), "--threshold", threshold);
      expect(run.code, run.stderr).to.equal(0);
      const { rows } = await readCsv(paths().predictions);
      for (const [, p, label] of rows) expect(label).to.equal(Number(p) >= Number(threshold) ? "1" : "0");
      rates.push(run.result.positiveRate as number);
    }
    expect(rates[0]).to.be.greaterThan(rates[1]!);
    const manifest = JSON.parse(await readFile(join(paths().predictionsDir, "manifest.json"), "utf8"));
    expect(manifest).to.include({ model_ref: join(dataDir, MODEL), threshold: 0.8 });
  });

  it("records the model's MLflow run in the manifest when the model folder has one", async () => {
    const dir = join(dataDir, "models", "with-run");
    const trained = await trainModel(synthetic({ rows: 200, seed: "predict-run", columns }), quick("tree"), memoryLogger());
    await saveModel(dir, trained, { ds: TRAINED, dataSha256: "a", run: { runId: "feedc0de", experimentId: "3" } });
    trained.dispose();
    const run = await predict(DS, "--model", "models/with-run");
    expect(run.code, run.stderr).to.equal(0);
    const manifest = JSON.parse(await readFile(join(paths().predictionsDir, "manifest.json"), "utf8"));
    expect(manifest).to.include({ model_ref: "models/with-run", model_version: null, run_id: "feedc0de", family: "tree" });
  });

  it("records the reference the model was chosen by (--model-ref) beside the model it scored (--model)", async () => {
    const run = await predict(DS, "--model", MODEL, "--model-ref", "models/latest-link");
    expect(run.code, run.stderr).to.equal(0);
    expect(run.result).to.include({ modelRef: "models/latest-link", model: MODEL });
    const manifest = JSON.parse(await readFile(join(paths().predictionsDir, "manifest.json"), "utf8"));
    expect(manifest).to.include({ model_ref: "models/latest-link", model: MODEL });
  });

  describe("failures: exit non-zero, one line, no predictions", () => {
    it("refuses raw data whose header is not the contract's raw schema, naming the difference", async () => {
      const ds = "2026-03-09";
      const renamed = columns.map((c) => (c === "f03" ? "g03" : c));
      const { target: __, ...wrong } = synthetic({ rows: 10, seed: "wrong", columns: renamed });
      await writeFrameCsv(dataPaths(dataDir, ds).data, wrong);
      const run = await predict(ds, "--model", MODEL);
      expectFailure(run, 1, new RegExp(`^${dataPaths(dataDir, ds).data}: missing columns f03; unexpected columns g03$`));
      const { target: ___, ...short } = synthetic({ rows: 10, seed: "short", columns: columns.slice(0, -1) });
      await writeFrameCsv(dataPaths(dataDir, ds).data, short);
      expectFailure(await predict(ds, "--model", MODEL), 1, new RegExp(`data\\.csv: missing columns ${columns.at(-1)}$`));
      expect(await exists(dataPaths(dataDir, ds).predictionsDir)).to.equal(false);
    });

    it("refuses a model whose features are not the raw schema's, naming the model", async () => {
      const ds = "2026-03-14";
      await writeFrameCsv(dataPaths(dataDir, ds).data, data);
      const trained = await trainModel(synthetic({ rows: 100, seed: "four", columns: columns.slice(0, 4) }), quick("tree"), memoryLogger());
      await saveModel(join(dataDir, "models", "four-features"), trained, { ds: TRAINED, dataSha256: "a" });
      trained.dispose();
      expectFailure(await predict(ds, "--model", "models/four-features"), 1, /^models\/four-features: the model takes the features f00,f01,f02,f03, the raw schema declares f00,/);
      expect(await exists(dataPaths(dataDir, ds).predictionsDir)).to.equal(false);
    });

    it("refuses data with a target column, or with a bad cell", async () => {
      const ds = "2026-03-10";
      const file = dataPaths(dataDir, ds).data;
      await writeFrameCsv(file, synthetic({ rows: 10, seed: "with-target", columns }));
      expectFailure(await predict(ds, "--model", MODEL), 1, /data\.csv: unexpected column "target"$/);
      const text = await readFile(paths().data, "utf8");
      await writeFile(file, text.replace(/\n([^,\n]+),[^,\n]*,/, "\n$1,x1,"));
      expectFailure(await predict(ds, "--model", MODEL), 1, /data\.csv: row 2, column "f00": not a finite number \("x1"\)$/);
      expect(await exists(dataPaths(dataDir, ds).predictionsDir)).to.equal(false);
    });

    it("missing model folder", async () => {
      const ds = "2026-03-11";
      await writeFrameCsv(dataPaths(dataDir, ds).data, data);
      expectFailure(await predict(ds, "--model", "models/2020-01-01"), 1, new RegExp(`^${join(dataDir, "models/2020-01-01")}: model folder not found$`));
      expect(await exists(dataPaths(dataDir, ds).predictionsDir)).to.equal(false);
    });

    it("missing data.csv", async () => {
      expectFailure(await predict("2026-04-01", "--model", MODEL), 1, /raw\/2026-04-01\/data\.csv: file not found$/);
      expect(await exists(dataPaths(dataDir, "2026-04-01").predictionsDir)).to.equal(false);
    });

    it("a models:/ reference without MLFLOW_TRACKING_URI, a malformed one, or another URI: exit 1 naming it", async () => {
      const ds = "2026-03-12";
      await writeFrameCsv(dataPaths(dataDir, ds).data, data);
      const ref = "models:/airflow-ml-dags-classifier@production";
      expectFailure(await predict(ds, "--model", ref), 1, new RegExp(`^${ref}: MLFLOW_TRACKING_URI is not set`));
      expectFailure(await predict(ds, "--model", "models:/clf/latest"), 1, /^models:\/clf\/latest: expected models:\/<name>@<alias> or models:\/<name>\/<version>/);
      expectFailure(await predict(ds, "--model", "runs:/abc/model"), 1, /^runs:\/abc\/model: expected a model folder, models:\/<name>@<alias>/);
      expect(await exists(dataPaths(dataDir, ds).predictionsDir)).to.equal(false);
    });

    it("MLflow unreachable: exit 1, one line naming the reference, no predictions, no temporary folder left", async () => {
      const ds = "2026-03-13";
      await writeFrameCsv(dataPaths(dataDir, ds).data, data);
      const before = await tempModelDirs();
      const uri = `http://127.0.0.1:${await closedPort()}`;
      const ref = "models:/airflow-ml-dags-classifier@production";
      const run = await predictWith({ MLFLOW_TRACKING_URI: uri }, ds, "--model", ref);
      expectFailure(run, 1, new RegExp(`^${ref}: MLflow unreachable at ${uri} \\(ECONNREFUSED\\)$`));
      expect(await exists(dataPaths(dataDir, ds).predictionsDir)).to.equal(false);
      expect(await tempModelDirs()).to.deep.equal(before);
    });

    it("bad command line: exit 2", async () => {
      const [noModel, badThreshold] = await Promise.all([predict(DS), predict(DS, "--model", MODEL, "--threshold", "1.5")]);
      expectFailure(noModel!, 2, /--model is required/);
      expectFailure(badThreshold!, 2, /--threshold: expected a number in \[0, 1\]/);
    });
  });
});
