/**
 * One day's monitoring report (monitoring/{ds}/report.json): the model's quality on the day's labels beside
 * its validation numbers, the drift of every feature and of the scores against the training profiles, and the
 * verdict with the alarms that made it.
 */
import type { ColumnProfile, DataProfile } from "@airflow-ml-dags/common";
import { FEATURES } from "@airflow-ml-dags/common";
import { computeMetrics } from "@airflow-ml-dags/model/metrics";
import { ks, profileShares, psi, sampleShares, sortedPresent } from "./drift.ts";
import type { PredictionsManifest, Validation } from "./inputs.ts";

export interface Quality {
  roc_auc: number | null;
  log_loss: number;
  accuracy: number;
  precision: number;
  recall: number;
  positive_rate_predicted: number;
  positive_rate_actual: number;
}

export interface FeatureDrift {
  /** null when the day or the training rows hold no value of the feature. */
  psi: number | null;
  ks: number | null;
  missing_rate: number;
  train_missing_rate: number;
}

export interface Alarm {
  metric: "psi" | "roc_auc";
  value: number;
  threshold: number;
  /** The feature, "scores" (prediction drift) or "quality". */
  subject: string;
}

export type Verdict = "ok" | "drift" | "quality drop";

export interface Thresholds {
  psi_threshold: number;
  auc_drop: number;
  /** The day's ROC AUC below this is a quality drop: validation ROC AUC − auc_drop (null without one). */
  min_roc_auc: number | null;
}

export interface Report {
  ds: string;
  model: { ref: string; version: string | null; model_ds: string; run_id: string | null };
  rows: number;
  quality: Quality;
  validation: Omit<Validation, "scores">;
  drift: { features: Record<string, FeatureDrift>; scores: { psi: number; ks: number } };
  thresholds: Thresholds;
  alarms: Alarm[];
  verdict: Verdict;
}

/** PSI and KS of a column's values (NaN = missing) against its profile, and its sorted values (made in place). */
function columnDrift(profile: ColumnProfile, values: Float64Array): { psi: number | null; ks: number | null; sorted: Float64Array } {
  const sorted = sortedPresent(values);
  if (profile.count === 0 || sorted.length === 0) return { psi: null, ks: null, sorted };
  return { psi: psi(profile.quantiles, sorted), ks: ks(profile.quantiles, sorted), sorted };
}

export interface DayInputs {
  ds: string;
  manifest: PredictionsManifest;
  profile: DataProfile;
  validation: Validation;
  /** The day's labels and probabilities, row for row (the probabilities are sorted in place, once used). */
  y: Uint8Array;
  p: Float64Array;
  /** The day's raw features, one array per feature of the raw schema (consumed: sorted in place). */
  columns: Float64Array[];
  rows: number;
  options: { psiThreshold: number; aucDrop: number };
}

/** The scores' distribution in 20 bins of width 0.05, the day's and under the validation profile: the page's chart. */
export interface ScoreBins {
  /** Inner edges 0.05 … 0.95: the bins are [0, 0.05], (0.05, 0.1], …, (0.95, 1]. */
  edges: number[];
  day: number[];
  validation: number[];
}

export const SCORE_EDGES = Array.from({ length: 19 }, (_, k) => (k + 1) / 20);

export function buildReport(d: DayInputs): { report: Report; scoreBins: ScoreBins } {
  const m = computeMetrics(d.y, d.p, d.manifest.threshold);
  const cm = m.confusion_matrix;
  const quality: Quality = {
    roc_auc: m.roc_auc,
    log_loss: m.log_loss,
    accuracy: m.accuracy,
    precision: m.precision,
    recall: m.recall,
    positive_rate_predicted: (cm.tp + cm.fp) / m.rows,
    positive_rate_actual: m.positive_rate,
  };
  const features: Record<string, FeatureDrift> = {};
  FEATURES.forEach((name, j) => {
    const profile = d.profile.features[name] as ColumnProfile;
    const drift = columnDrift(profile, d.columns[j] as Float64Array);
    const trainCells = profile.count + profile.missing;
    features[name] = {
      psi: drift.psi,
      ks: drift.ks,
      missing_rate: d.rows === 0 ? 0 : (d.rows - drift.sorted.length) / d.rows,
      train_missing_rate: trainCells === 0 ? 0 : profile.missing / trainCells,
    };
  });
  // The probabilities are needed no more once the metrics are computed: sorted in place.
  const scores = columnDrift(d.validation.scores, d.p);
  const scoreBins = {
    edges: SCORE_EDGES,
    day: sampleShares(scores.sorted, SCORE_EDGES),
    validation: profileShares(d.validation.scores.quantiles, SCORE_EDGES),
  };
  const { scores: _, ...validation } = d.validation;
  const thresholds: Thresholds = {
    psi_threshold: d.options.psiThreshold,
    auc_drop: d.options.aucDrop,
    min_roc_auc: validation.roc_auc === null ? null : validation.roc_auc - d.options.aucDrop,
  };
  const drift = { features, scores: { psi: scores.psi as number, ks: scores.ks as number } };
  const alarms = findAlarms(quality, drift, thresholds);
  const report: Report = {
    ds: d.ds,
    model: { ref: d.manifest.model_ref, version: d.manifest.model_version, model_ds: d.manifest.model_ds, run_id: d.manifest.run_id },
    rows: m.rows,
    quality,
    validation,
    drift,
    thresholds,
    alarms,
    verdict: verdictOf(alarms),
  };
  return { report, scoreBins };
}

/** A PSI above the threshold (each feature, the scores), and a ROC AUC below the validation one minus the drop. */
export function findAlarms(quality: Quality, drift: Report["drift"], t: Thresholds): Alarm[] {
  const alarms: Alarm[] = [];
  for (const [subject, f] of Object.entries(drift.features)) {
    if (f.psi !== null && f.psi > t.psi_threshold) alarms.push({ metric: "psi", value: f.psi, threshold: t.psi_threshold, subject });
  }
  if (drift.scores.psi > t.psi_threshold) {
    alarms.push({ metric: "psi", value: drift.scores.psi, threshold: t.psi_threshold, subject: "scores" });
  }
  if (quality.roc_auc !== null && t.min_roc_auc !== null && quality.roc_auc < t.min_roc_auc) {
    alarms.push({ metric: "roc_auc", value: quality.roc_auc, threshold: t.min_roc_auc, subject: "quality" });
  }
  return alarms;
}

export const verdictOf = (alarms: Alarm[]): Verdict =>
  alarms.length === 0 ? "ok" : alarms.some((a) => a.subject === "quality") ? "quality drop" : "drift";

/** The feature with the largest PSI (null when none has one). */
export function maxPsi(r: Report): { feature: string | null; value: number | null } {
  let best: { feature: string | null; value: number | null } = { feature: null, value: null };
  for (const [feature, f] of Object.entries(r.drift.features)) {
    if (f.psi !== null && (best.value === null || f.psi > best.value)) best = { feature, value: f.psi };
  }
  return best;
}

/** What the index and the quality chart need of one day's report. */
export interface DaySummary {
  ds: string;
  verdict: Verdict;
  roc_auc: number | null;
  validation_roc_auc: number | null;
  model_version: string | null;
  max_psi: { feature: string | null; value: number | null };
}

export const summarize = (r: Report): DaySummary => ({
  ds: r.ds,
  verdict: r.verdict,
  roc_auc: r.quality.roc_auc,
  validation_roc_auc: r.validation.roc_auc,
  model_version: r.model.version,
  max_psi: maxPsi(r),
});
