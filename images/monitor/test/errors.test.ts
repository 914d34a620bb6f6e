import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { dataPaths, layoutPath } from "@airflow-ml-dags/common";
import { expect } from "chai";
import { closedPort, expectFailure, runStage } from "../../model/test/cli.ts";
import { MODEL_DS, snapshot, writeDay, writeModel } from "./helpers.ts";

const PKG = resolve(import.meta.dirname, "..");
const EARLIER = "2026-03-02";
const DS = "2026-03-03";

/** Rewrites a text file through `edit`. */
async function edit(path: string, change: (text: string) => string): Promise<void> {
  await writeFile(path, change(await readFile(path, "utf8")));
}

describe("monitor on bad inputs: exit 1, one error line naming the file, nothing written", function () {
  this.timeout(60_000);
  let root: string;
  let base: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "monitor-errors-"));
    base = join(root, "base");
    await writeModel(base);
    await writeDay(base, EARLIER);
    await writeDay(base, DS);
    // An earlier report and the index: a failed day must leave them as they are.
    const run = await runStage(PKG, ["--ds", EARLIER, "--data-dir", base]);
    expect(run.code, run.stderr).to.equal(0);
  });
  after(() => rm(root, { recursive: true, force: true }));

  let caseNo = 0;
  /** A copy of the base folder broken by `breakIt`, monitored for DS: the failure, and the folder unchanged. */
  async function failsWith(breakIt: (dir: string) => Promise<void>, file: (dir: string) => string, problem: RegExp, env = {}) {
    const dir = join(root, `case-${++caseNo}`);
    await cp(base, dir, { recursive: true });
    await breakIt(dir);
    const before = await snapshot(dir);
    const run = await runStage(PKG, ["--ds", DS, "--data-dir", dir], env);
    expectFailure(run, 1, problem);
    expect(run.logs.at(-1)?.msg).to.include(file(dir));
    expect(await snapshot(dir)).to.deep.equal(before);
  }

  const paths = (dir: string) => dataPaths(dir, DS);
  const modelFile = (key: "model_profile" | "model_metrics") => (dir: string) => layoutPath(dir, key, MODEL_DS);

  it("a missing labels file", () =>
    failsWith((d) => rm(paths(d).target), (d) => paths(d).target, /file not found/));

  it("a prediction whose id has no label", () =>
    failsWith(
      (d) => edit(paths(d).target, (t) => t.replace(`${DS}-000007,`, "someone-else,")),
      (d) => paths(d).target,
      new RegExp(`no label for id "${DS}-000007" of .*predictions.csv \\(row 9\\)`),
    ));

  it("a label without a prediction", () =>
    failsWith(
      (d) => edit(paths(d).target, (t) => `${t}extra-id,1\n`),
      (d) => paths(d).target,
      /1 id has no prediction in .*predictions\.csv, e\.g\. "extra-id"/,
    ));

  it("a model folder without profile.json", () =>
    failsWith((d) => rm(modelFile("model_profile")(d)), modelFile("model_profile"), /profile\.json: file not found/));

  it("metrics.json without the validation scores", () =>
    failsWith(
      (d) => edit(modelFile("model_metrics")(d), (t) => JSON.stringify({ ...JSON.parse(t), scores: undefined })),
      modelFile("model_metrics"),
      /no "scores" profile/,
    ));

  it("no predictions manifest", () =>
    failsWith((d) => rm(paths(d).predictionsManifest), (d) => paths(d).predictionsManifest, /file not found/));

  it("a data.csv whose header is not the raw schema", () =>
    failsWith(
      (d) => edit(paths(d).data, (t) => t.replace(",f03,", ",x03,")),
      (d) => paths(d).data,
      /missing columns f03; unexpected columns x03/,
    ));

  it("a probability outside [0, 1]", () =>
    failsWith(
      (d) => edit(paths(d).predictions, (t) => t.replace(/\n(\S+?),[0-9.]+,/, "\n$1,1.5,")),
      (d) => paths(d).predictions,
      /row 2, column "probability": expected a number in \[0, 1\], got "1\.5"/,
    ));

  it("a profile of other features than the raw schema's", () =>
    failsWith(
      (d) => edit(modelFile("model_profile")(d), (t) => t.replaceAll('"f19"', '"x19"')),
      modelFile("model_profile"),
      /no profile of f19/,
    ));

  it("MLflow set but unreachable: the line names the server", async () => {
    const uri = `http://127.0.0.1:${await closedPort()}`;
    await failsWith(async () => {}, () => uri, /MLflow unreachable/, { MLFLOW_TRACKING_URI: uri });
  });
});
