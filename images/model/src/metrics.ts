/**
 * The quality metrics of a model's probabilities against 0/1 targets: validate's metrics.json and monitor's
 * daily quality come from this one implementation. Imported as "@airflow-ml-dags/model/metrics", not through
 * the package's index, so that only the images that compute metrics hold arquero (and none of them needs tfjs
 * for it).
 */
import * as aq from "arquero";

/** log(0) is -Infinity: a confident wrong answer costs a large but finite amount, as in scikit-learn. */
export const LOG_LOSS_EPS = 1e-15;

export interface ConfusionMatrix {
  tn: number;
  fp: number;
  fn: number;
  tp: number;
}

export interface Metrics {
  rows: number;
  /** Share of rows whose target is 1: the accuracy of always answering 1, to read the other numbers against. */
  positive_rate: number;
  threshold: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** null when the rows hold a single class: no positive/negative pair to rank. */
  roc_auc: number | null;
  roc_auc_note?: string;
  log_loss: number;
  confusion_matrix: ConfusionMatrix;
}

/** A ratio whose empty denominator means "nothing to be right about": 0, never NaN in JSON. */
const ratio = (num: number, den: number) => (den === 0 ? 0 : num / den);

// Arquero compiles its expressions from their source text. Written as strings, that text is exactly
// what is read here: the bundler leaves strings alone but renames identifiers in functions (`op` → `op2`).
const scores = (yTrue: Uint8Array, prob: Float64Array) => aq.table({ y: yTrue, p: prob });

/** Counts of (target, predicted label) pairs; a pair that never occurs counts 0. */
export function confusionMatrix(yTrue: Uint8Array, prob: Float64Array, threshold = 0.5): ConfusionMatrix {
  const counts = scores(yTrue, prob)
    .params({ threshold })
    .derive({ pred: "(d, $) => d.p >= $.threshold ? 1 : 0" })
    .groupby("y", "pred")
    .count({ as: "n" })
    .objects() as { y: number; pred: number; n: number }[];
  const cell = (y: number, pred: number) => counts.find((c) => c.y === y && c.pred === pred)?.n ?? 0;
  return { tn: cell(0, 0), fp: cell(0, 1), fn: cell(1, 0), tp: cell(1, 1) };
}

/** Mean negative log-likelihood of the targets, probabilities clipped to [eps, 1 - eps]. */
export function logLoss(yTrue: Uint8Array, prob: Float64Array): number {
  const { loss } = scores(yTrue, prob)
    .params({ eps: LOG_LOSS_EPS })
    .derive({ pc: "(d, $) => op.greatest($.eps, op.least(1 - $.eps, d.p))" })
    .rollup({ loss: "d => op.mean(d.y === 1 ? -op.log(d.pc) : -op.log(1 - d.pc))" })
    .object() as { loss: number };
  return loss;
}

/**
 * ROC AUC as the Mann–Whitney U statistic: the chance that a random positive scores above a random
 * negative, a tie counting one half. Average ranks give ties exactly that half, and the value equals
 * the trapezoid area under the ROC curve. null for a single class.
 */
export function rocAuc(yTrue: Uint8Array, prob: Float64Array): number | null {
  const { positives, rows, positiveRankSum } = scores(yTrue, prob)
    .orderby("p")
    .derive({ rank: "() => op.avg_rank()" })
    .rollup({ positives: "d => op.sum(d.y)", rows: "() => op.count()", positiveRankSum: "d => op.sum(d.y * d.rank)" })
    .object() as { positives: number; rows: number; positiveRankSum: number };
  const negatives = rows - positives;
  if (positives === 0 || negatives === 0) return null;
  const u = positiveRankSum - (positives * (positives + 1)) / 2;
  return u / (positives * negatives);
}

function checkInputs(yTrue: Uint8Array, prob: Float64Array, threshold: number): void {
  if (yTrue.length === 0) throw new Error("no rows to validate");
  if (yTrue.length !== prob.length) throw new Error(`${yTrue.length} targets but ${prob.length} probabilities`);
  const badTarget = yTrue.findIndex((y) => y !== 0 && y !== 1);
  if (badTarget >= 0) throw new Error(`target ${badTarget} is ${yTrue[badTarget]}, expected 0 or 1`);
  // A model that returns NaN or values outside [0, 1] is broken: averaging them would hide it.
  const badProb = prob.findIndex((p) => !(p >= 0 && p <= 1));
  if (badProb >= 0) throw new Error(`probability ${badProb} is ${prob[badProb]}, expected a number in [0, 1]`);
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`threshold ${threshold} is not in [0, 1]`);
}

/** Every metric of metrics.json for 0/1 targets and the model's probabilities of class 1. */
export function computeMetrics(yTrue: Uint8Array, prob: Float64Array, threshold = 0.5): Metrics {
  checkInputs(yTrue, prob, threshold);
  const cm = confusionMatrix(yTrue, prob, threshold);
  const rows = yTrue.length;
  const precision = ratio(cm.tp, cm.tp + cm.fp);
  const recall = ratio(cm.tp, cm.tp + cm.fn);
  const rocAucValue = rocAuc(yTrue, prob);
  const positives = cm.tp + cm.fn;
  return {
    rows,
    positive_rate: positives / rows,
    threshold,
    accuracy: (cm.tp + cm.tn) / rows,
    precision,
    recall,
    f1: ratio(2 * precision * recall, precision + recall),
    roc_auc: rocAucValue,
    ...(rocAucValue === null
      ? { roc_auc_note: `undefined: every row has target ${positives === 0 ? 0 : 1}, so no positive/negative pair to rank` }
      : {}),
    log_loss: logLoss(yTrue, prob),
    confusion_matrix: cm,
  };
}
