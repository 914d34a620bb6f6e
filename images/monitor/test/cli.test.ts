import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FEATURES, layoutPath } from "@airflow-ml-dags/common";
import { expect } from "chai";
import { runStage } from "../../model/test/cli.ts";
import { MODEL_DS, snapshot, writeDay, writeModel } from "./helpers.ts";
import type { Report } from "../src/report.ts";

const PKG = resolve(import.meta.dirname, "..");
const DAYS = ["2026-03-02", "2026-03-03", "2026-03-04"];
const DRIFTED = "2026-03-05";
const BROKEN = "2026-03-06";

describe("monitor CLI on a data folder", function () {
  this.timeout(120_000);
  let dataDir: string;
  const monitor = (ds: string, ...args: string[]) => runStage(PKG, ["--ds", ds, "--data-dir", dataDir, ...args]);
  const report = async (ds: string) => JSON.parse(await readFile(layoutPath(dataDir, "monitoring_report", ds), "utf8")) as Report;
  const text = (key: "monitoring_page" | "monitoring_index", ds: string) => readFile(layoutPath(dataDir, key, ds), "utf8");

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "monitor-test-"));
    await writeModel(dataDir);
    for (const ds of DAYS) await writeDay(dataDir, ds);
    // The world shifts (features f00 … f03 by 1.5 standard deviations): the data and the scores drift.
    await writeDay(dataDir, DRIFTED, { shift: 1.5 });
    // Half the labels are coin flips: the model's ROC AUC falls.
    await writeDay(dataDir, BROKEN, { labelNoise: 0.5 });
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it("finds a normal day ok: the result line, report.json and both pages", async () => {
    const run = await monitor(DAYS[0] as string);
    expect(run.code, run.stderr).to.equal(0);
    const outputs = [
      layoutPath(dataDir, "monitoring_report", DAYS[0] as string),
      layoutPath(dataDir, "monitoring_page", DAYS[0] as string),
      layoutPath(dataDir, "monitoring_index", DAYS[0] as string),
    ];
    expect(run.result).to.include({ status: "ok", stage: "monitor", ds: DAYS[0], verdict: "ok", model_version: "3", rows: 800, mlflow_run_id: null });
    expect(run.result.alarms).to.deep.equal([]);
    expect(run.result.outputs).to.deep.equal(outputs);
    const r = await report(DAYS[0] as string);
    expect(Object.keys(r)).to.deep.equal(["ds", "model", "rows", "quality", "validation", "drift", "thresholds", "alarms", "verdict"]);
    expect(r.model).to.deep.equal({
      ref: "models:/airflow-ml-dags-classifier@production",
      version: "3",
      model_ds: MODEL_DS,
      run_id: "0123456789abcdef0123456789abcdef",
    });
    expect(Object.keys(r.drift.features)).to.deep.equal([...FEATURES]);
    for (const f of Object.values(r.drift.features)) {
      expect(f.psi).to.be.below(0.1);
      expect(f.ks).to.be.below(0.1);
      expect(f.missing_rate).to.be.closeTo(0.01, 0.015);
      expect(f.train_missing_rate).to.be.closeTo(0.01, 0.01);
    }
    expect(r.quality.roc_auc).to.be.closeTo(r.validation.roc_auc as number, 0.05);
    expect(r.thresholds).to.deep.equal({ psi_threshold: 0.2, auc_drop: 0.05, min_roc_auc: (r.validation.roc_auc as number) - 0.05 });
    expect(run.result.roc_auc).to.equal(r.quality.roc_auc);
    expect(r.verdict).to.equal("ok");
    const page = await text("monitoring_page", DAYS[0] as string);
    expect(page).to.include(">OK</strong>");
    expect(page.match(/<svg /g)).to.have.length(3);
    // Self-contained: no script, nothing loaded from elsewhere (xmlns is a name, not a fetch).
    expect(page).to.not.match(/<script|<link|<img|@import|url\(|src=/i);
    expect(page.replace(/xmlns(:xlink)?="http:\/\/www\.w3\.org\/[^"]*"/g, "")).to.not.match(/https?:/);
  });

  it("keeps the history: each day's chart has the earlier days, the index lists every day newest first", async () => {
    for (const ds of DAYS.slice(1)) expect((await monitor(ds)).code).to.equal(0);
    const index = await text("monitoring_index", DAYS[2] as string);
    const linked = [...index.matchAll(/href="([0-9-]+)\/report\.html"/g)].map((m) => m[1]);
    expect(linked).to.deep.equal([...DAYS].reverse());
    // The last page's ROC AUC chart has three points, one per day; with --history-days 1, two.
    expect((await text("monitoring_page", DAYS[2] as string)).match(/<path[^>]*aria-roledescription="point"/g)).to.have.length(3);
    expect((await monitor(DAYS[2] as string, "--history-days", "1")).code).to.equal(0);
    expect((await text("monitoring_page", DAYS[2] as string)).match(/<path[^>]*aria-roledescription="point"/g)).to.have.length(2);
  });

  it("gives the same bytes when a day is run again", async () => {
    const before = await snapshot(join(dataDir, "monitoring"));
    expect((await monitor(DAYS[2] as string, "--history-days", "1")).code).to.equal(0);
    expect(await snapshot(join(dataDir, "monitoring"))).to.deep.equal(before);
  });

  it("says drift when the world shifts: the shifted features and the scores raise PSI alarms", async () => {
    const run = await monitor(DRIFTED);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.result.verdict).to.equal("drift");
    const r = await report(DRIFTED);
    const subjects = r.alarms.map((a) => a.subject);
    expect(subjects).to.deep.equal(["f00", "f01", "f02", "f03", "scores"]);
    for (const a of r.alarms) expect(a).to.include({ metric: "psi", threshold: 0.2 }).and.to.have.property("value").above(0.2);
    expect(r.drift.features.f00?.ks).to.be.above(0.4);
    expect(r.drift.features.f10?.psi).to.be.below(0.1);
    expect(run.result.max_psi).to.have.property("feature").that.is.oneOf(["f00", "f01", "f02", "f03"]);
    expect(run.logs.filter((l) => l.level === "warn" && l.msg.startsWith("alarm:"))).to.have.length(5);
    const page = await text("monitoring_page", DRIFTED);
    expect(page).to.include(">DRIFT</strong>5 alarms");
    expect(page).to.include("PSI of feature f00 is");
  });

  it("says quality drop when the ROC AUC falls more than --auc-drop below validation", async () => {
    const run = await monitor(BROKEN);
    expect(run.code, run.stderr).to.equal(0);
    const r = await report(BROKEN);
    expect(r.verdict).to.equal("quality drop");
    expect(r.alarms).to.deep.equal([
      { metric: "roc_auc", value: r.quality.roc_auc, threshold: r.thresholds.min_roc_auc, subject: "quality" },
    ]);
    expect(r.quality.roc_auc).to.be.below((r.validation.roc_auc as number) - 0.05);
    // A drop the option allows is no alarm.
    const lenient = await monitor(BROKEN, "--auc-drop", "0.5");
    expect(lenient.result.verdict).to.equal("ok");
  });

  it("refuses options outside the contract's bounds with exit 2", async () => {
    for (const [option, value] of [["--psi-threshold", "0"], ["--auc-drop", "2"], ["--history-days", "1.5"]]) {
      const run = await monitor(DAYS[0] as string, option as string, value as string);
      expect(run.code, `${option} ${value}`).to.equal(2);
      expect(run.logs.at(-1)?.msg).to.include(option);
    }
  });
});
