// What a monitor run must have written, checked against the files the other stages wrote rather than against
// numbers copied from a run: the day's quality recomputed from predictions.csv and target.csv, the validation
// side read from metrics.json, drift for every feature of the contract, alarms and verdict that follow from
// the report's own numbers, and pages that show without the network.
import { expect } from "chai";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CONTRACT, FEATURES } from "./support.ts";

/** The monitoring options as the DAG passes them (its Params default to the contract's defaults). */
export interface MonitorOptions {
  psiThreshold: number;
  aucDrop: number;
  historyDays: number;
}

const OPTIONS = CONTRACT.options.monitoring;
export const DEFAULT_MONITOR_OPTIONS: MonitorOptions = {
  psiThreshold: OPTIONS.psi_threshold.default,
  aucDrop: OPTIONS.auc_drop.default,
  historyDays: OPTIONS.history_days.default,
};

/** The monitor's command line as dags/monitor.py renders it: every option spelt out, and --data-dir last. */
export const monitorArgs = (ds: string, o: Partial<MonitorOptions> = {}) => {
  const opts = { ...DEFAULT_MONITOR_OPTIONS, ...o };
  return [
    "--ds", ds,
    "--psi-threshold", String(opts.psiThreshold),
    "--auc-drop", String(opts.aucDrop),
    "--history-days", String(opts.historyDays),
    "--data-dir", "/data",
  ];
};

export interface Alarm {
  metric: "psi" | "roc_auc";
  value: number;
  threshold: number;
  subject: string;
}

export interface Quality {
  roc_auc: number | null;
  log_loss: number;
  accuracy: number;
  precision: number;
  recall: number;
  positive_rate_predicted: number;
  positive_rate_actual: number;
}

export interface Report {
  ds: string;
  model: { ref: string; version: string | null; model_ds: string; run_id: string | null };
  rows: number;
  quality: Quality;
  validation: Quality;
  drift: {
    features: Record<string, { psi: number | null; ks: number | null; missing_rate: number; train_missing_rate: number }>;
    scores: { psi: number; ks: number };
  };
  thresholds: { psi_threshold: number; auc_drop: number; min_roc_auc: number | null };
  alarms: Alarm[];
  verdict: "ok" | "drift" | "quality drop";
}

const readText = (dataDir: string, p: string) => readFile(join(dataDir, p), "utf8");
export const readJson = async <T = Record<string, unknown>>(dataDir: string, p: string) => JSON.parse(await readText(dataDir, p)) as T;

async function csvRows(dataDir: string, p: string): Promise<{ header: string[]; rows: string[][] }> {
  const [header, ...rows] = (await readText(dataDir, p)).trimEnd().split("\n");
  return { header: (header ?? "").split(","), rows: rows.map((r) => r.split(",")) };
}

/** The day's predictions joined to its labels by id, as the monitor must join them. */
async function scoredDay(dataDir: string, ds: string) {
  const targets = await csvRows(dataDir, `raw/${ds}/target.csv`);
  const labelOf = new Map(targets.rows.map(([id, t]) => [id as string, Number(t)]));
  const preds = await csvRows(dataDir, `predictions/${ds}/predictions.csv`);
  expect(preds.header).to.deep.equal(["id", "probability", "label"]);
  expect(preds.rows.length, "a prediction for every label").to.equal(labelOf.size);
  return preds.rows.map(([id, p, label]) => {
    const y = labelOf.get(id as string);
    expect(y, `label of ${id}`).to.be.oneOf([0, 1]);
    return { y: y as number, p: Number(p), predicted: Number(label) };
  });
}

/** ROC AUC as the share of (positive, negative) pairs ranked right, a tie counting one half: sorted, not pairwise. */
function rocAuc(rows: { y: number; p: number }[]): number | null {
  const sorted = [...rows].sort((a, b) => a.p - b.p);
  const positives = rows.filter((r) => r.y === 1).length;
  const negatives = rows.length - positives;
  if (positives === 0 || negatives === 0) return null;
  let negativesBelow = 0;
  let pairs = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    let pos = 0;
    let neg = 0;
    for (; j < sorted.length && (sorted[j] as { p: number }).p === (sorted[i] as { p: number }).p; j++) {
      if ((sorted[j] as { y: number }).y === 1) pos++;
      else neg++;
    }
    pairs += pos * (negativesBelow + neg / 2);
    negativesBelow += neg;
    i = j;
  }
  return pairs / (positives * negatives);
}

/** The day's quality from the files alone; the predicted class is predict's own label column. */
export async function expectedQuality(dataDir: string, ds: string): Promise<Quality> {
  const rows = await scoredDay(dataDir, ds);
  const n = rows.length;
  const count = (f: (r: (typeof rows)[number]) => boolean) => rows.filter(f).length;
  const tp = count((r) => r.y === 1 && r.predicted === 1);
  const fp = count((r) => r.y === 0 && r.predicted === 1);
  const fn = count((r) => r.y === 1 && r.predicted === 0);
  // validate's clipping (scikit-learn's): a confident wrong answer costs a large but finite amount.
  const eps = 1e-15;
  const logLoss = rows.reduce((s, r) => {
    const p = Math.min(1 - eps, Math.max(eps, r.p));
    return s - Math.log(r.y === 1 ? p : 1 - p);
  }, 0) / n;
  return {
    roc_auc: rocAuc(rows),
    log_loss: logLoss,
    accuracy: count((r) => r.y === r.predicted) / n,
    precision: tp + fp === 0 ? 0 : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn),
    positive_rate_predicted: (tp + fp) / n,
    positive_rate_actual: (tp + fn) / n,
  };
}

/** What the report must say of the model's validation: metrics.json's numbers, the predicted rate from its confusion matrix. */
async function expectedValidation(dataDir: string, modelDs: string): Promise<Quality> {
  const m = await readJson<Record<string, number> & { confusion_matrix: Record<"tn" | "fp" | "fn" | "tp", number> }>(
    dataDir,
    `models/${modelDs}/metrics.json`,
  );
  const cm = m.confusion_matrix;
  return {
    roc_auc: m.roc_auc as number,
    log_loss: m.log_loss as number,
    accuracy: m.accuracy as number,
    precision: m.precision as number,
    recall: m.recall as number,
    positive_rate_predicted: (cm.tp + cm.fp) / (cm.tn + cm.fp + cm.fn + cm.tp),
    positive_rate_actual: m.positive_rate as number,
  };
}

/** Share of empty cells of each feature in the day's data.csv, by name. */
async function missingRates(dataDir: string, ds: string): Promise<Record<string, number>> {
  const { header, rows } = await csvRows(dataDir, `raw/${ds}/data.csv`);
  return Object.fromEntries(FEATURES.map((f) => {
    const j = header.indexOf(f);
    return [f, rows.filter((r) => r[j] === "").length / rows.length];
  }));
}

/** The mean of each feature on a day, empty cells left out: where a shift of the world shows. */
export async function featureMeans(dataDir: string, ds: string): Promise<Record<string, number>> {
  const { header, rows } = await csvRows(dataDir, `raw/${ds}/data.csv`);
  return Object.fromEntries(FEATURES.map((f) => {
    const j = header.indexOf(f);
    const values = rows.map((r) => r[j] as string).filter((c) => c !== "").map(Number);
    return [f, values.reduce((s, v) => s + v, 0) / values.length];
  }));
}

const closeTo = (actual: Record<string, number | null>, expected: Record<string, number | null>, what: string) => {
  expect(Object.keys(actual), what).to.have.members(Object.keys(expected));
  for (const [k, v] of Object.entries(expected)) {
    if (v === null) expect(actual[k], `${what}.${k}`).to.equal(null);
    // Sums taken in another order than the image's: equal up to rounding.
    else expect(actual[k], `${what}.${k}`).to.be.closeTo(v, 1e-9);
  }
};

/** The alarms a report's own numbers call for, in the image's order: features, then scores, then quality. */
export function alarmsOf(r: Report): Alarm[] {
  const t = r.thresholds;
  const alarms: Alarm[] = [];
  for (const f of FEATURES) {
    const psi = r.drift.features[f]?.psi ?? null;
    if (psi !== null && psi > t.psi_threshold) alarms.push({ metric: "psi", value: psi, threshold: t.psi_threshold, subject: f });
  }
  if (r.drift.scores.psi > t.psi_threshold) alarms.push({ metric: "psi", value: r.drift.scores.psi, threshold: t.psi_threshold, subject: "scores" });
  const auc = r.quality.roc_auc;
  if (auc !== null && t.min_roc_auc !== null && auc < t.min_roc_auc) {
    alarms.push({ metric: "roc_auc", value: auc, threshold: t.min_roc_auc, subject: "quality" });
  }
  return alarms;
}

/**
 * Checks monitor's result line and monitoring/{ds}/report.json against the data folder; returns the report.
 * `result` is the parsed last stdout line; `trackingRunId` the MLflow run it names (null with MLflow off).
 */
export async function expectMonitored(
  dataDir: string,
  ds: string,
  result: Record<string, unknown>,
  opts: Partial<MonitorOptions> = {},
): Promise<Report> {
  const o = { ...DEFAULT_MONITOR_OPTIONS, ...opts };
  const report = await readJson<Report>(dataDir, `monitoring/${ds}/report.json`);
  const manifest = await readJson<{ model_ref: string; model_version: string | null; model_ds: string; run_id: string | null }>(
    dataDir,
    `predictions/${ds}/manifest.json`,
  );
  const labels = (await readText(dataDir, `raw/${ds}/target.csv`)).trimEnd().split("\n").length - 1;

  expect(report.ds).to.equal(ds);
  expect(report.model).to.deep.equal({ ref: manifest.model_ref, version: manifest.model_version, model_ds: manifest.model_ds, run_id: manifest.run_id });
  expect(report.rows).to.equal(labels);
  closeTo({ ...report.quality }, { ...(await expectedQuality(dataDir, ds)) }, "quality");
  const validation = await expectedValidation(dataDir, manifest.model_ds);
  // Copied from metrics.json: exactly its numbers; only the predicted rate is computed, from its confusion matrix.
  expect({ ...report.validation, positive_rate_predicted: 0 }).to.deep.equal({ ...validation, positive_rate_predicted: 0 });
  expect(report.validation.positive_rate_predicted).to.be.closeTo(validation.positive_rate_predicted, 1e-12);

  // Drift: every feature of the contract, in its order, against the training profile of the model that scored the day.
  const profile = await readJson<{ features: Record<string, { count: number; missing: number }> }>(dataDir, `models/${manifest.model_ds}/profile.json`);
  const missing = await missingRates(dataDir, ds);
  expect(Object.keys(report.drift.features)).to.deep.equal(FEATURES);
  for (const f of FEATURES) {
    const d = report.drift.features[f] as Report["drift"]["features"][string];
    const p = profile.features[f] as { count: number; missing: number };
    expect(d.psi, `${f} psi`).to.be.a("number").and.at.least(0);
    expect(d.ks, `${f} ks`).to.be.a("number").within(0, 1);
    expect(d.missing_rate, `${f} missing_rate`).to.be.closeTo(missing[f] as number, 1e-12);
    expect(d.train_missing_rate, `${f} train_missing_rate`).to.be.closeTo(p.missing / (p.count + p.missing), 1e-12);
  }
  expect(report.drift.scores.psi, "scores psi").to.be.a("number").and.at.least(0);
  expect(report.drift.scores.ks, "scores ks").to.be.a("number").within(0, 1);

  expect(report.thresholds).to.deep.equal({
    psi_threshold: o.psiThreshold,
    auc_drop: o.aucDrop,
    min_roc_auc: validation.roc_auc === null ? null : (validation.roc_auc as number) - o.aucDrop,
  });
  expect(report.alarms).to.deep.equal(alarmsOf(report));
  const verdict = report.alarms.length === 0 ? "ok" : report.alarms.some((a) => a.subject === "quality") ? "quality drop" : "drift";
  expect(report.verdict).to.equal(verdict);

  // The result line: what the DAG's act_on_alarms reads, agreeing with the report.
  let largest: { feature: string | null; value: number | null } = { feature: null, value: null };
  for (const f of FEATURES) {
    const psi = report.drift.features[f]?.psi ?? null;
    if (psi !== null && (largest.value === null || psi > largest.value)) largest = { feature: f, value: psi };
  }
  expect(result).to.deep.include({
    ds,
    verdict: report.verdict,
    alarms: report.alarms,
    model_version: manifest.model_version,
    roc_auc: report.quality.roc_auc,
    max_psi: largest,
    rows: labels,
    outputs: [`/data/monitoring/${ds}/report.json`, `/data/monitoring/${ds}/report.html`, "/data/monitoring/index.html"],
  });
  return report;
}

/**
 * A page that shows as it is, from the data folder or as an MLflow artifact: no script, no stylesheet link, and
 * nothing loaded from elsewhere (src, href, url() or @import to a network or protocol-relative address). SVG's
 * xmlns names a namespace and is never fetched, so it is allowed.
 */
export function expectSelfContained(html: string, what: string): void {
  expect(html, what).to.match(/^<!DOCTYPE html>/);
  expect(html, `${what}: <script>`).to.not.match(/<script\b/i);
  expect(html, `${what}: <link>`).to.not.match(/<link\b/i);
  expect(html, `${what}: <iframe>/<object>/<embed>`).to.not.match(/<(iframe|object|embed)\b/i);
  const fetched = [...html.matchAll(/\b(?:src|href|xlink:href|srcset|poster|data)\s*=\s*["']?\s*([^"'\s>]*)/gi)]
    .map((m) => m[1] as string)
    .filter((u) => /^(?:[a-z][a-z0-9+.-]*:)?\/\//i.test(u) && !u.startsWith("data:"));
  expect(fetched, `${what}: addresses the page would fetch`).to.deep.equal([]);
  expect(html, `${what}: url() to the network`).to.not.match(/url\(\s*["']?\s*(?:https?:)?\/\//i);
  expect(html, `${what}: @import`).to.not.match(/@import/i);
}

/** The days monitoring/index.html links, in its order, each link checked to lead to that day's page. */
export async function indexedDays(dataDir: string): Promise<string[]> {
  const html = await readText(dataDir, "monitoring/index.html");
  expectSelfContained(html, "index.html");
  const days = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1] as string);
  for (const href of days) expect(href).to.match(/^\d{4}-\d{2}-\d{2}\/report\.html$/);
  const reports = (await readdir(join(dataDir, "monitoring"), { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  expect(days.map((h) => h.slice(0, 10)), "the index links every day with a report").to.have.members(reports);
  return days.map((h) => h.slice(0, 10));
}

/** The day's report page: self-contained, its charts inline, naming the day, its verdict and every feature. */
export async function expectReportPage(dataDir: string, report: Report): Promise<string> {
  const html = await readText(dataDir, `monitoring/${report.ds}/report.html`);
  expectSelfContained(html, "report.html");
  // Three charts: ROC AUC over the days, PSI per feature, the scores' distribution.
  expect(html.match(/<svg\b/g) ?? [], "inline SVG charts").to.have.length(3);
  expect(html).to.contain(`Model monitoring · ${report.ds}`);
  expect(html).to.contain({ ok: "OK", drift: "DRIFT", "quality drop": "QUALITY DROP" }[report.verdict]);
  for (const f of FEATURES) expect(html).to.contain(`<td>${f}</td>`);
  return html;
}
