import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { expect } from "chai";
import { TASK_IDENTITY, dataPaths, profileFrame, readFrame, type DataProfile } from "@airflow-ml-dags/common";
import { DEFAULT_HYPERPARAMS, loadModel, type Manifest } from "@airflow-ml-dags/model";
import { dataDates, trainParams } from "../src/train.ts";
import { closedPort, expectFailure, runStage, writeFrameCsv } from "../../model/test/cli.ts";
import { tempDir } from "../../model/test/helpers.ts";
import { accuracy, synthetic } from "../../model/test/synthetic.ts";

const PKG = resolve(import.meta.dirname, "..");
const DS = "2026-03-02";
const train = (dataDir: string, ...args: string[]) => runStage(PKG, ["--ds", DS, "--data-dir", dataDir, ...args]);

describe("train CLI", () => {
  let dataDir: string;
  let cleanup: () => Promise<void>;
  let paths: ReturnType<typeof dataPaths>;
  const frame = synthetic({ rows: 300, seed: "train-cli", missing: 0.05 });

  beforeEach(async () => {
    ({ dir: dataDir, cleanup } = await tempDir());
    paths = dataPaths(dataDir, DS);
    await writeFrameCsv(paths.train, frame);
  });
  afterEach(() => cleanup());

  it("trains the default MLP and writes a complete model folder", async () => {
    const run = await train(dataDir, "--epochs", "3");
    expect(run.code, run.stderr).to.equal(0);
    expect(run.result).to.include({ status: "ok", stage: "train", ds: DS, family: "mlp", rows: 300, modelDir: paths.modelDir });
    expect(run.result.finalLoss).to.be.a("number");
    const files = ["model.json", "weights.bin", "preprocess.json", "profile.json", "manifest.json"];
    expect(run.result.files).to.have.members(files);
    expect(await readdir(paths.modelDir)).to.have.members(files);
    expect(run.logs.filter((l) => l.msg === "epoch").map((l) => l.epoch)).to.deep.equal([1, 2, 3]);

    const manifest = JSON.parse(await readFile(join(paths.modelDir, "manifest.json"), "utf8")) as Manifest;
    const sha = createHash("sha256").update(await readFile(paths.train)).digest("hex");
    expect(manifest).to.include({ ds: DS, family: "mlp", rows: 300, dataSha256: sha });
    expect(manifest.hyperparams).to.include({ epochs: 3, learning_rate: 0.01, batch_size: 64, hidden: 32, seed: 42 });
    expect(manifest.history.finalLoss).to.equal(run.result.finalLoss);
    expect(manifest.files).to.deep.equal(files);
    // Without MLFLOW_TRACKING_URI the stage says so once and records no run.
    expect(run.logs.filter((l) => /^MLflow off: MLFLOW_TRACKING_URI is not set/.test(l.msg))).to.have.length(1);
    expect(manifest).to.not.have.any.keys("runId", "experimentId");
    expect(run.result).to.include({ runId: null, experimentId: null });

    const model = await loadModel(paths.modelDir);
    expect(accuracy(model.predictProba(frame), frame.target)).to.be.greaterThan(0.8);
    model.dispose();
  });

  it("trains the tree and logistic regression with their options", async () => {
    const tree = await train(dataDir, "--family", "tree", "--max-depth", "4", "--min-samples", "10");
    expect(tree.code, tree.stderr).to.equal(0);
    expect(await readdir(paths.modelDir)).to.have.members(["tree.json", "preprocess.json", "profile.json", "manifest.json"]);
    const logreg = await train(dataDir, "--family", "logreg", "--epochs", "2", "--l2", "0.01", "--learning-rate", "0.05");
    expect(logreg.code, logreg.stderr).to.equal(0);
    expect(await readdir(paths.modelDir)).to.have.members(["model.json", "weights.bin", "preprocess.json", "profile.json", "manifest.json"]);
    const manifest = JSON.parse(await readFile(join(paths.modelDir, "manifest.json"), "utf8")) as Manifest;
    expect(manifest.hyperparams).to.include({ family: "logreg", epochs: 2, l2: 0.01, learning_rate: 0.05 });
  });

  it("--trainer tfjs fits through tfjs's model.fit: the default fused trainer's model within float rounding", async () => {
    const scores: Float64Array[] = [];
    for (const trainer of ["fused", "tfjs"]) {
      const run = await train(dataDir, "--epochs", "3", "--trainer", trainer);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.logs.find((l) => l.msg === "training")).to.include({ trainer });
      const model = await loadModel(paths.modelDir);
      scores.push(model.predictProba(frame));
      model.dispose();
    }
    const [fused, tfjs] = scores as [Float64Array, Float64Array];
    fused.forEach((p, i) => expect(Math.abs(p - (tfjs[i] as number)), `row ${i}`).to.be.below(1e-5));
  });

  it("writes the training rows' raw profile (before imputation and standardisation), the same bytes on a rerun", async () => {
    const first = await train(dataDir, "--family", "tree");
    expect(first.code, first.stderr).to.equal(0);
    const path = join(paths.modelDir, "profile.json");
    const bytes = await readFile(path);
    const profile = JSON.parse(bytes.toString("utf8")) as DataProfile;
    // The profile of train.csv as read, missing cells included: not of the imputed, standardised model inputs.
    const read = await readFrame(paths.train, { withTarget: true });
    expect(profile).to.deep.equal(profileFrame(read));
    expect(profile).to.include({ version: 1, rows: 300 });
    expect(Object.keys(profile.features)).to.deep.equal(frame.columns);
    const f00 = profile.features.f00!;
    expect(f00.count + f00.missing).to.equal(300);
    expect(f00.missing).to.be.above(0);
    expect(f00.quantiles).to.have.length(101);
    const raw = Array.from({ length: 300 }, (_, i) => read.values[i * read.columns.length] as number).filter((v) => !Number.isNaN(v));
    expect(f00.quantiles[0]).to.equal(Math.min(...raw));
    expect(f00.quantiles[100]).to.equal(Math.max(...raw));
    const again = await train(dataDir, "--family", "tree");
    expect(again.code, again.stderr).to.equal(0);
    expect((await readFile(path)).equals(bytes)).to.equal(true);
  });

  it("refuses bad hyperparameters with exit 2 and writes nothing", async () => {
    const cases: [string[], RegExp][] = [
      [["--family", "forest"], /--family: expected one of mlp, logreg, tree/],
      [["--epochs", "0"], /--epochs: expected an integer in \[1, 10000\], got 0/],
      [["--learning-rate", "0"], /--learning-rate: expected a number in \(0, 10\], got 0/],
      [["--batch-size", "1.5"], /--batch-size: expected an integer/],
      [["--l2=-1"], /--l2: expected a number in \[0, 10\], got -1/],
      [["--hidden", "many"], /--hidden: expected an integer, got "many"/],
      [["--max-depth", "0"], /--max-depth/],
      [["--seed", "-3"], /--seed/],
      [["--bogus", "1"], /Unknown option '--bogus'/],
      [["--trainer", "keras"], /--trainer: expected one of fused, tfjs, got "keras"/],
    ];
    for (const [args, problem] of cases) expectFailure(await train(dataDir, ...args), 2, problem);
    const bad = await runStage(PKG, ["--ds", "2026-02-30", "--data-dir", dataDir]);
    expectFailure(bad, 2, /--ds: expected a date/);
    expect(await readdir(dataDir)).to.deep.equal(["processed"]);
  });

  it("missing train.csv: exit 1, one line naming the file, no model folder", async () => {
    const run = await runStage(PKG, ["--ds", "2026-03-03", "--data-dir", dataDir]);
    expectFailure(run, 1, new RegExp(`^${dataPaths(dataDir, "2026-03-03").train}: file not found$`));
    expect(await readdir(dataDir)).to.deep.equal(["processed"]);
  });

  it("bad train.csv: exit 1, one line naming the file and the problem, no model folder", async () => {
    await writeFile(paths.train, (await readFile(paths.train, "utf8")).replace(/\n([^,\n]+),[^,\n]*,/, "\n$1,1e999,"));
    expectFailure(await train(dataDir), 1, new RegExp(`^${paths.train}: row 2, column "f00": not a finite number`));
    expect(await readdir(dataDir)).to.deep.equal(["processed"]);
  });

  it("bad train.csv after a good run: exit 1 and the previous model stays as it was", async () => {
    const good = await train(dataDir, "--family", "tree");
    expect(good.code, good.stderr).to.equal(0);
    const before = await readFile(join(paths.modelDir, "manifest.json"));
    const text = await readFile(paths.train, "utf8");
    const lines = text.trimEnd().split("\n");
    const cases: [string, RegExp][] = [
      [text.replace(lines[3]!, lines[3]!.replace(/,[^,]*,/, ",abc,")), /row 4, column "f00": not a finite number \("abc"\)/],
      [lines.map((l) => l.replace(/,[^,]*$/, "")).join("\n"), /missing column "target"/],
      [[lines[0], ...lines.slice(1).map((l) => l.replace(/,[01]$/, ",0"))].join("\n"), /"target" holds only class 0/],
      [`${lines[0]}\n`, /no data rows/],
    ];
    for (const [content, problem] of cases) {
      await writeFile(paths.train, content);
      const run = await train(dataDir, "--family", "tree");
      expectFailure(run, 1, new RegExp(`^${paths.train}: .*${problem.source}`));
      expect(await readFile(join(paths.modelDir, "manifest.json"))).to.deep.equal(before);
      expect(await readdir(join(dataDir, "models"))).to.deep.equal([DS]);
    }
  });

  it("a model folder that cannot be written: exit 1, one line", async () => {
    // A file where the models folder should be.
    await writeFile(join(dataDir, "models"), "not a folder");
    const run = await train(dataDir, "--family", "tree");
    expectFailure(run, 1, new RegExp(`^${join(dataDir, "models")}: cannot create output folder`));
  });

  it("MLflow unreachable: exit 1, one line naming the tracking URI, no model folder", async () => {
    const uri = `http://127.0.0.1:${await closedPort()}`;
    const run = await runStage(PKG, ["--ds", DS, "--data-dir", dataDir, "--family", "tree"], { MLFLOW_TRACKING_URI: uri });
    expectFailure(run, 1, new RegExp(`^${uri}: MLflow unreachable at ${uri} \\(ECONNREFUSED\\)$`));
    expect(await readdir(dataDir)).to.deep.equal(["processed"]);
  });

  it("a garbled task identity: exit 1, one line naming the variable, before MLflow is asked or anything written", async () => {
    const { run_key_env: KEY, try_number_env: TRY } = TASK_IDENTITY;
    // A closed port: reaching MLflow at all would fail with another line.
    const uri = `http://127.0.0.1:${await closedPort()}`;
    const cases: [Record<string, string>, RegExp][] = [
      [{ [KEY]: "train_model/train", [TRY]: "1" }, new RegExp(`^${KEY}: expected <dag_id>/<task_id>/<run_id>\\[/<map_index>\\]`)],
      [{ [KEY]: "d/t/it's", [TRY]: "1" }, new RegExp(`^${KEY}: expected`)],
      [{ [KEY]: "d/t/r", [TRY]: "0" }, new RegExp(`^${TRY}: expected a positive integer, got "0"$`)],
      [{ [KEY]: "d/t/r", [TRY]: "two" }, new RegExp(`^${TRY}: expected a positive integer, got "two"$`)],
      [{ [KEY]: "d/t/r" }, new RegExp(`^${TRY}: not set, but ${KEY} is: set both or neither$`)],
      [{ [KEY]: "", [TRY]: "2" }, new RegExp(`^${KEY}: not set, but ${TRY} is`)],
    ];
    for (const [env, problem] of cases) {
      expectFailure(await runStage(PKG, ["--ds", DS, "--data-dir", dataDir, "--family", "tree"], { MLFLOW_TRACKING_URI: uri, ...env }), 1, problem);
    }
    expect(await readdir(dataDir)).to.deep.equal(["processed"]);
  });

  it("a task identity with MLflow off changes nothing: the model is trained and written as without it", async () => {
    const env = { [TASK_IDENTITY.run_key_env]: "train_model/train/manual__2026-03-02T00:00:00+00:00", [TASK_IDENTITY.try_number_env]: "2" };
    const run = await runStage(PKG, ["--ds", DS, "--data-dir", dataDir, "--family", "tree"], env);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.result).to.include({ runId: null, experimentId: null });
    expect(await readdir(paths.modelDir)).to.have.members(["tree.json", "preprocess.json", "profile.json", "manifest.json"]);
  });

  it("a tracking URI that is not http(s): exit 1, one line, no model folder", async () => {
    const run = await runStage(PKG, ["--ds", DS, "--data-dir", dataDir], { MLFLOW_TRACKING_URI: "file:///tmp/mlruns" });
    expectFailure(run, 1, /^file:\/\/\/tmp\/mlruns: only http\(s\) tracking URIs are supported/);
    expect(await readdir(dataDir)).to.deep.equal(["processed"]);
  });
});

describe("train params for MLflow", () => {
  it("holds every hyperparameter, the run date, the data's rows, positive rate, hash and days", () => {
    const ids = ["20261114-000001", "20261120-000002", "20261117-000001", "20261114-000002"];
    const params = trainParams(DEFAULT_HYPERPARAMS, { ds: "2026-11-20", rows: 4, positives: 1, dataSha256: "ab", ids });
    // Every hyperparameter of the contract, under its own name, at its default.
    const contract = JSON.parse(readFileSync(new URL("../../../contract/pipeline.json", import.meta.url), "utf8"));
    const defaults = Object.fromEntries(Object.entries(contract.options.hyperparameters).map(([k, v]) => [k, (v as { default: unknown }).default]));
    expect(params).to.deep.equal({
      ...defaults,
      ds: "2026-11-20",
      train_rows: 4,
      train_positive_rate: 0.25,
      data_sha256: "ab",
      data_from: "2026-11-14",
      data_to: "2026-11-20",
      data_days: 3,
    });
  });

  it("leaves the days out when an id does not carry its date", () => {
    expect(dataDates(["20261114-000001", "row-7"])).to.equal(undefined);
    expect(dataDates(["20261114-000001", "20261114-000009"])).to.deep.equal(["2026-11-14"]);
    const params = trainParams(DEFAULT_HYPERPARAMS, { ds: "2026-11-20", rows: 2, positives: 1, dataSha256: "ab", ids: ["a", "b"] });
    expect(params).to.not.have.any.keys("data_from", "data_to", "data_days");
  });
});
