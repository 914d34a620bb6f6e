// Runs the real images, as the DAGs do, on a temporary data folder: generate -> prepare -> split -> train ->
// validate -> predict -> monitor, and checks every output; then a next day in a shifted world, which the
// monitor must flag.
import { expect } from "chai";
import { execa } from "execa";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  expectMonitored,
  expectReportPage,
  featureMeans,
  indexedDays,
  monitorArgs,
  type Report,
} from "./monitoring.ts";
import { FEATURES, STAGES, type Stage, exists as existsIn, image, makeDataDir, removeDir, runStage } from "./support.ts";

const DS = "2026-11-20";
/** The day after DS, generated with a sudden shift of the world from that day on. */
const DRIFTED = "2026-11-21";
/** A day the chain writes nothing for. */
const UNSEEN = "2026-11-25";
const ROWS = 3000;

let dataDir = "";

const run = (stage: Stage, ...args: string[]) => runStage(stage, args, { dataDir });

async function csv(path: string) {
  const [header, ...rows] = (await readFile(join(dataDir, path), "utf8")).trimEnd().split("\n");
  return { header: (header ?? "").split(","), rows: rows.map((r) => r.split(",")) };
}

const exists = (p: string) => existsIn(dataDir, p);

describe("stage images", () => {
  before(async () => {
    // Task containers run as the unprivileged `node` user; the host folder lets it write.
    dataDir = await makeDataDir("smoke");
  });
  after(() => removeDir(dataDir));

  for (const stage of STAGES) {
    it(`${stage}: --help works and the image runs as a non-root user`, async () => {
      const help = await run(stage, "--help");
      expect(help.code, help.stderrLines.join("\n")).to.equal(0);
      expect(help.stdout).to.match(/Usage:/);
      const { stdout } = await execa("docker", ["image", "inspect", "--format", "{{.Config.User}}", image(stage)]);
      expect(stdout.trim()).to.not.be.oneOf(["", "root", "0"]);
    });
  }

  describe("the whole chain", () => {
    it("generate writes data and target, byte-identical on a rerun", async () => {
      const res = (await run("generate", "--ds", DS, "--rows", String(ROWS))).result();
      expect(res).to.include({ status: "ok", rows: ROWS });
      const data = await csv(`raw/${DS}/data.csv`);
      const target = await csv(`raw/${DS}/target.csv`);
      expect(data.header[0]).to.equal("id");
      expect(data.header.length).to.be.greaterThan(2);
      expect(data.rows).to.have.length(ROWS);
      expect(target.header).to.deep.equal(["id", "target"]);
      expect(target.rows.map((r) => r[0])).to.deep.equal(data.rows.map((r) => r[0]));
      const first = await readFile(join(dataDir, `raw/${DS}/data.csv`));
      (await run("generate", "--ds", DS, "--rows", String(ROWS))).result();
      expect((await readFile(join(dataDir, `raw/${DS}/data.csv`))).equals(first)).to.equal(true);
    });

    it("prepare joins data and target into train_data.csv", async () => {
      const res = (await run("prepare", "prepare", "--ds", DS)).result();
      expect(res.status).to.equal("ok");
      const prepared = await csv(`processed/${DS}/train_data.csv`);
      const data = await csv(`raw/${DS}/data.csv`);
      expect(prepared.header).to.deep.equal([...data.header, "target"]);
      expect(prepared.rows.length).to.be.within(ROWS * 0.95, ROWS);
      for (const r of prepared.rows) expect(r.at(-1)).to.be.oneOf(["0", "1"]);
    });

    it("split makes disjoint, stratified train and val sets", async () => {
      (await run("prepare", "split", "--ds", DS, "--val-fraction", "0.2")).result();
      const all = await csv(`processed/${DS}/train_data.csv`);
      const train = await csv(`processed/${DS}/train.csv`);
      const val = await csv(`processed/${DS}/val.csv`);
      expect(train.rows.length + val.rows.length).to.equal(all.rows.length);
      expect(val.rows.length).to.be.closeTo(all.rows.length * 0.2, 2);
      const trainIds = new Set(train.rows.map((r) => r[0]));
      expect(val.rows.filter((r) => trainIds.has(r[0]))).to.deep.equal([]);
      const rate = (rows: string[][]) => rows.filter((r) => r.at(-1) === "1").length / rows.length;
      expect(rate(val.rows)).to.be.closeTo(rate(all.rows), 0.01);
    });

    for (const family of ["logreg", "tree", "mlp"]) {
      it(`${family}: train -> validate -> predict -> monitor, ok on its own training day`, async () => {
        const trained = (await run("train", "--ds", DS, "--family", family, "--epochs", "5")).result();
        expect(trained.status).to.equal("ok");
        const files = await readdir(join(dataDir, `models/${DS}`));
        expect(files).to.include.members(["preprocess.json", "profile.json", "manifest.json"]);
        expect(files).to.include.members(family === "tree" ? ["tree.json"] : ["model.json", "weights.bin"]);
        const manifest = JSON.parse(await readFile(join(dataDir, `models/${DS}/manifest.json`), "utf8"));
        expect(manifest).to.include({ ds: DS, family });
        expect(manifest.files).to.include("profile.json");
        // The training rows' profile: every feature of train.csv, its present and missing cells, 101 quantiles.
        const profile = JSON.parse(await readFile(join(dataDir, `models/${DS}/profile.json`), "utf8"));
        const trainRows = (await csv(`processed/${DS}/train.csv`)).rows.length;
        expect(profile).to.include({ version: 1, rows: trainRows });
        expect(Object.keys(profile.features)).to.deep.equal(manifest.columns);
        for (const p of Object.values(profile.features) as { count: number; missing: number; quantiles: number[] }[]) {
          expect(p.count + p.missing).to.equal(trainRows);
          expect(p.quantiles).to.have.length(101);
        }

        // No MLFLOW_TRACKING_URI here: validate scores and writes metrics.json only, and says MLflow is off.
        const validated = await run("validate", "validate", "--ds", DS);
        expect(validated.result()).to.include({ decision: null, version: null });
        expect(validated.stderrLines.map((l) => JSON.parse(l).msg)).to.include(
          "MLflow off: MLFLOW_TRACKING_URI is not set, nothing is logged or registered",
        );
        const metrics = JSON.parse(await readFile(join(dataDir, `models/${DS}/metrics.json`), "utf8"));
        expect(metrics.registry).to.equal(null);
        for (const k of ["accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"]) expect(metrics).to.have.property(k);
        // The candidate's probabilities on the validation rows, profiled: the monitor's baseline of prediction drift.
        expect(metrics.scores).to.include({ count: metrics.rows, missing: 0 });
        expect(metrics.scores.quantiles).to.have.length(101);
        expect(metrics.scores.quantiles[0]).to.be.at.least(0);
        expect(metrics.scores.quantiles[100]).to.be.at.most(1);
        // The generated data is learnable: every family must beat chance clearly.
        expect(metrics.roc_auc).to.be.greaterThan(0.65);
        const cm = metrics.confusion_matrix;
        const val = await csv(`processed/${DS}/val.csv`);
        expect(cm.tn + cm.fp + cm.fn + cm.tp).to.equal(val.rows.length);

        const predicted = (await run("predict", "--ds", DS, "--model", `models/${DS}`)).result();
        expect(predicted.status).to.equal("ok");
        const preds = await csv(`predictions/${DS}/predictions.csv`);
        const data = await csv(`raw/${DS}/data.csv`);
        expect(preds.header).to.deep.equal(["id", "probability", "label"]);
        expect(preds.rows.map((r) => r[0])).to.deep.equal(data.rows.map((r) => r[0]));
        for (const [, p, label] of preds.rows) {
          const prob = Number(p);
          expect(prob).to.be.within(0, 1);
          expect(label).to.equal(prob >= 0.5 ? "1" : "0");
        }
        const predManifest = JSON.parse(await readFile(join(dataDir, `predictions/${DS}/manifest.json`), "utf8"));
        expect(predManifest).to.deep.equal({
          ds: DS,
          model_ref: `models/${DS}`,
          model: `models/${DS}`,
          model_version: null,
          run_id: null,
          model_ds: DS,
          family,
          rows: ROWS,
          threshold: 0.5,
        });

        // The model on the day it was trained on, mostly its own training rows: nothing may look drifted or worse.
        const monitored = await run("monitor", ...monitorArgs(DS));
        const result = monitored.result();
        expect(result.mlflow_run_id, "MLflow off").to.equal(null);
        expect(monitored.stderrLines.map((l) => JSON.parse(l).msg)).to.include(
          "MLflow off: MLFLOW_TRACKING_URI is not set, nothing is logged or registered",
        );
        const report = await expectMonitored(dataDir, DS, result);
        expect(report.verdict, JSON.stringify(report.alarms)).to.equal("ok");
        await expectReportPage(dataDir, report);
        expect(await indexedDays(dataDir)).to.deep.equal([DS]);
      });
    }

    it("monitor: a next day in a shifted world is flagged, and the index lists both days", async () => {
      // The model folder is the last family's (mlp): the world moves under it from DRIFTED on.
      const generated = (await run("generate", "--ds", DRIFTED, "--rows", String(ROWS), "--drift-from", DRIFTED)).result();
      expect(generated).to.include({ shifted: true });
      (await run("predict", "--ds", DRIFTED, "--model", `models/${DS}`)).result();

      // Which features moved, from the data alone: a sudden shift moves means by standard deviations, a day's
      // slow drift by hundredths of one.
      const [before, after] = await Promise.all([featureMeans(dataDir, DS), featureMeans(dataDir, DRIFTED)]);
      const shifted = FEATURES.filter((f) => Math.abs((after[f] as number) - (before[f] as number)) > 0.5);
      expect(shifted.length, "features the shift moved").to.be.within(1, FEATURES.length - 1);
      const psiAlarms = (r: Report) => r.alarms.filter((a) => a.metric === "psi" && a.subject !== "scores").map((a) => a.subject);

      // A deployment that alarms on drift only (the largest auc_drop the contract allows): a drift verdict,
      // each moved feature named, none of the others.
      const driftOnly = { aucDrop: 1 };
      const drift = await expectMonitored(dataDir, DRIFTED, (await run("monitor", ...monitorArgs(DRIFTED, driftOnly))).result(), driftOnly);
      expect(drift.verdict).to.equal("drift");
      expect(psiAlarms(drift)).to.deep.equal(shifted);

      // As the DAG runs it by default. generate's shift is concept drift too (some weights turn their sign), so
      // the model ranks the day barely better than chance: the quality drop outranks the drift.
      const monitored = (await run("monitor", ...monitorArgs(DRIFTED))).result();
      const report = await expectMonitored(dataDir, DRIFTED, monitored);
      expect(psiAlarms(report)).to.deep.equal(shifted);
      expect(report.alarms.filter((a) => a.metric === "roc_auc")).to.have.length(1);
      expect(report.verdict).to.equal("quality drop");
      expect(report.quality.roc_auc).to.be.lessThan(report.validation.roc_auc as number);
      expect(monitored.max_psi).to.have.property("feature").that.is.oneOf(shifted);

      const html = await expectReportPage(dataDir, report);
      for (const f of shifted) expect(html).to.match(new RegExp(`PSI of feature ${f} is \\d`));
      // Newest first; DS's report is the in-sample day's, still there.
      expect(await indexedDays(dataDir)).to.deep.equal([DRIFTED, DS]);
      const index = await readFile(join(dataDir, "monitoring/index.html"), "utf8");
      expect(index).to.contain("QUALITY DROP").and.contain("OK").and.contain("2 days, newest first");
    });
  });

  describe("bad input in a real container", () => {
    it("predict with a missing model folder exits 1 with one line naming it and writes nothing", async () => {
      const r = await run("predict", "--ds", UNSEEN, "--model", "models/1999-01-01");
      expect(r.code).to.equal(1);
      const last = JSON.parse(r.stderrLines.at(-1) ?? "{}");
      expect(last.level).to.equal("error");
      expect(last.msg).to.contain("/data/models/1999-01-01");
      expect(await exists(`predictions/${UNSEEN}`)).to.equal(false);
    });

    it("generate with a malformed date exits 2 and writes nothing", async () => {
      const r = await run("generate", "--ds", "2026-13-40");
      expect(r.code).to.equal(2);
      expect(JSON.parse(r.stderrLines.at(-1) ?? "{}").msg).to.contain("--ds");
      expect(await exists("raw/2026-13-40")).to.equal(false);
    });
  });
});
