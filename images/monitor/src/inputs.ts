/**
 * What the monitor reads, each checked where it is read so a bad input fails with one line naming its file:
 * predict's manifest, the model's profile.json and metrics.json, the day's predictions joined to its labels,
 * the day's raw features (column by column) and the reports of earlier days.
 */
import { readdir } from "node:fs/promises";
import type { ColumnProfile, DataProfile } from "@airflow-ml-dags/common";
import {
  FEATURES,
  InputError,
  countLines,
  layoutPath,
  parseNumber,
  rawDataOptions,
  readCsvBatches,
  readFrames,
  readTargetRows,
  readText,
} from "@airflow-ml-dags/common";
import { type DaySummary, type Quality, type Report, summarize } from "./report.ts";

export const PREDICTION_COLUMNS = ["id", "probability", "label"];
const DS_RE = /^\d{4}-\d{2}-\d{2}$/;

type Json = Record<string, unknown>;

/** A JSON object from a file; a missing file, bad JSON or anything but an object is an InputError naming it. */
export async function readJsonObject(path: string): Promise<Json> {
  const text = await readText(path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(path, `not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new InputError(path, "expected a JSON object");
  return value as Json;
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isRate = (v: unknown): v is number => isNumber(v) && v >= 0 && v <= 1;

/** predictions/{ds}/manifest.json as predict writes it: which model scored the day, and at what threshold. */
export interface PredictionsManifest {
  model_ref: string;
  model_version: string | null;
  run_id: string | null;
  model_ds: string;
  threshold: number;
}

export async function readPredictionsManifest(path: string): Promise<PredictionsManifest> {
  const m = await readJsonObject(path);
  const optionalText = (v: unknown) => v === null || (typeof v === "string" && v !== "");
  const problem =
    typeof m.model_ref !== "string" || m.model_ref === ""
      ? '"model_ref" must be a non-empty string'
      : !optionalText(m.model_version)
        ? '"model_version" must be a string or null'
        : !optionalText(m.run_id)
          ? '"run_id" must be a string or null'
          : typeof m.model_ds !== "string" || !DS_RE.test(m.model_ds)
            ? '"model_ds" must be a date YYYY-MM-DD'
            : !isRate(m.threshold)
              ? '"threshold" must be a number in [0, 1]'
              : undefined;
  if (problem) throw new InputError(path, problem);
  return m as unknown as PredictionsManifest;
}

/** Why `p` is not a column profile, or undefined. A column with no values has no quantiles to check. */
function profileProblem(p: unknown): string | undefined {
  const c = p as Partial<ColumnProfile> | null;
  if (typeof c !== "object" || c === null) return "is not an object";
  if (!isCount(c.count) || !isCount(c.missing)) return '"count" and "missing" must be counts';
  if (c.count === 0) return undefined;
  const q = c.quantiles;
  if (!Array.isArray(q) || q.length !== 101 || !q.every(isNumber)) return '"quantiles" must be 101 finite numbers';
  if (q.some((v, i) => i > 0 && v < (q[i - 1] as number))) return '"quantiles" must not decrease';
  return undefined;
}

/** models/{model_ds}/profile.json: one profile per feature of the raw schema. */
export async function readDataProfile(path: string): Promise<DataProfile> {
  const p = await readJsonObject(path);
  if (p.version !== 1) throw new InputError(path, `unknown profile version ${JSON.stringify(p.version)}, expected 1`);
  const features = p.features as Record<string, unknown> | undefined;
  if (typeof features !== "object" || features === null) throw new InputError(path, 'no "features" object');
  const missing = FEATURES.filter((f) => !(f in features));
  if (missing.length) throw new InputError(path, `no profile of ${missing.join(", ")}`);
  for (const f of FEATURES) {
    const problem = profileProblem(features[f]);
    if (problem) throw new InputError(path, `features.${f} ${problem}`);
  }
  return p as unknown as DataProfile;
}

/** The validation numbers of the model version (validate's metrics.json) the day is compared with, and the
 * profile of the model's probabilities on the validation rows. */
export type Validation = Quality & { scores: ColumnProfile };

export async function readValidation(path: string): Promise<Validation> {
  const m = await readJsonObject(path);
  if (m.scores === undefined) {
    throw new InputError(path, 'no "scores" profile of the validation probabilities (written by validate since monitoring came; rerun validate)');
  }
  const problem = profileProblem(m.scores);
  if (problem || (m.scores as ColumnProfile).count === 0) throw new InputError(path, `"scores" ${problem ?? "holds no values"}`);
  const cm = m.confusion_matrix as Record<string, unknown> | undefined;
  const bad = (["log_loss", "accuracy", "precision", "recall", "positive_rate"] as const).find((k) => !isNumber(m[k]));
  if (bad) throw new InputError(path, `"${bad}" must be a number`);
  if (m.roc_auc !== null && !isRate(m.roc_auc)) throw new InputError(path, '"roc_auc" must be a number in [0, 1] or null');
  if (!cm || !(["tn", "fp", "fn", "tp"] as const).every((k) => isCount(cm[k]))) {
    throw new InputError(path, '"confusion_matrix" must hold the counts tn, fp, fn, tp');
  }
  const rows = (cm.tn as number) + (cm.fp as number) + (cm.fn as number) + (cm.tp as number);
  return {
    roc_auc: m.roc_auc as number | null,
    log_loss: m.log_loss as number,
    accuracy: m.accuracy as number,
    precision: m.precision as number,
    recall: m.recall as number,
    positive_rate_predicted: rows === 0 ? 0 : ((cm.tp as number) + (cm.fp as number)) / rows,
    positive_rate_actual: m.positive_rate as number,
    scores: m.scores as ColumnProfile,
  };
}

/**
 * The day's predictions joined to its labels by id: every prediction must have a label and every label a
 * prediction. Predict writes its rows in the raw day's order, so while a prediction's id is the label's at
 * the same place it takes that label with a comparison; a map of the label ids (most of the cost of a
 * million of them) is only built from the first one that is not. A bit marks the labels taken.
 */
export async function readScoredDay(predictionsPath: string, targetPath: string): Promise<{ y: Uint8Array; p: Float64Array }> {
  const { ids, labels } = await readTargetRows(targetPath);
  const taken = new Uint8Array(ids.length);
  let byId: Map<string, number> | undefined;
  const y = new Uint8Array(ids.length);
  const p = new Float64Array(ids.length);
  let n = 0;
  for await (const { header, rows, firstRow } of readCsvBatches(predictionsPath)) {
    if (header.join(",") !== PREDICTION_COLUMNS.join(",")) {
      throw new InputError(predictionsPath, `expected columns "${PREDICTION_COLUMNS.join(",")}", got "${header.join(",")}"`);
    }
    for (let i = 0; i < rows.length; i++) {
      const [id, cell] = rows[i] as [string, string];
      const row = firstRow + i;
      if (id.trim() === "") throw new InputError(predictionsPath, `row ${row}: empty id`);
      if (byId === undefined && ids[n] !== id) byId = new Map(ids.map((t, k) => [t, k]));
      const k = byId === undefined ? n : byId.get(id);
      if (k === undefined) throw new InputError(targetPath, `no label for id "${id}" of ${predictionsPath} (row ${row})`);
      if (taken[k]) throw new InputError(predictionsPath, `row ${row}: duplicate id "${id}"`);
      const prob = parseNumber(predictionsPath, cell, row, "probability");
      if (!(prob >= 0 && prob <= 1)) {
        throw new InputError(predictionsPath, `row ${row}, column "probability": expected a number in [0, 1], got "${cell}"`);
      }
      taken[k] = 1;
      y[n] = labels[k] as number;
      p[n] = prob;
      n++;
    }
  }
  if (n === 0) throw new InputError(predictionsPath, "no data rows (header only)");
  if (n < ids.length) {
    const unmatched = ids.length - n;
    const example = ids[taken.indexOf(0)];
    const which = unmatched === 1 ? "1 id has" : `${unmatched} ids have`;
    throw new InputError(targetPath, `${which} no prediction in ${predictionsPath}, e.g. "${example}"`);
  }
  return { y, p };
}

/**
 * raw/{ds}/data.csv, checked as every reader of raw data checks it, into one array per feature (NaN =
 * missing), in the raw schema's order: the numbers only, read batch by batch.
 */
export async function readFeatureColumns(path: string): Promise<{ rows: number; columns: Float64Array[] }> {
  let columns: Float64Array[] = [];
  let rows = 0;
  for await (const f of readFrames(path, rawDataOptions())) {
    if (rows === 0) {
      // Sized from the line count, never fewer than the rows, so nothing is copied on the way.
      const capacity = await countLines(path);
      columns = FEATURES.map(() => new Float64Array(capacity));
    }
    const d = f.columns.length;
    const n = f.ids.length;
    if (rows + n > (columns[0] as Float64Array).length) throw new Error(`${path}: more rows than lines while reading`);
    for (let j = 0; j < d; j++) {
      const column = columns[j] as Float64Array;
      for (let i = 0; i < n; i++) column[rows + i] = f.values[i * d + j] as number;
    }
    rows += n;
  }
  return { rows, columns: columns.map((c) => c.subarray(0, rows)) };
}

/**
 * The summary of an earlier day's report.json, or undefined when there is none. One that cannot be read is
 * left out with a warning: an old or damaged page of history must not stop today's monitoring.
 */
async function readSummary(path: string, warn: (msg: string) => void): Promise<DaySummary | undefined> {
  try {
    const r = (await readJsonObject(path)) as unknown as Report;
    if (typeof r.ds !== "string" || typeof r.verdict !== "string" || !r.quality || !r.validation || !r.model || !r.drift?.features) {
      throw new InputError(path, "not a monitor report");
    }
    return summarize(r);
  } catch (err) {
    if (err instanceof InputError && err.problem === "file not found") return undefined;
    if (err instanceof InputError) {
      warn(`${err.message}: left out of the history`);
      return undefined;
    }
    throw err;
  }
}

/** Summaries of the reports of the given days that have one, oldest first. */
export async function readHistory(dataDir: string, days: string[], warn: (msg: string) => void): Promise<DaySummary[]> {
  const found = await Promise.all(days.map((d) => readSummary(layoutPath(dataDir, "monitoring_report", d), warn)));
  return found.filter((s): s is DaySummary => s !== undefined);
}

/** Every day with a report under the monitoring folder, as a list of dates. */
export async function reportDays(monitoringRoot: string): Promise<string[]> {
  try {
    const entries = await readdir(monitoringRoot, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && DS_RE.test(e.name)).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new InputError(monitoringRoot, `cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}
