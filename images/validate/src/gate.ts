/**
 * The quality gate's rule: a new model version takes the `production` alias only when it scores better
 * than the current production version, on the same validation rows, by at least a margin.
 */
import type { Metrics } from "./metrics.ts";

export const GATE_METRICS = ["roc_auc", "accuracy", "precision", "recall", "f1", "log_loss"] as const;
export type GateMetric = (typeof GATE_METRICS)[number];
export const DEFAULT_GATE_METRIC: GateMetric = "roc_auc";

/** Every gate metric is better when higher, except the log loss. */
export const lowerIsBetter = (metric: GateMetric) => metric === "log_loss";

export const gateValue = (metrics: Metrics, metric: GateMetric): number | null => metrics[metric];

export interface GateOutcome {
  promote: boolean;
  /** One line, kept as the version's `rejected` or `promotion_reason` tag. */
  reason: string;
}

const show = (v: number) => String(Number(v.toFixed(6)));

/**
 * Compares the candidate with the production version on one metric. Promotes when the candidate is at
 * least `margin` better (an equal score passes with margin 0); a metric that is undefined on the
 * validation rows (ROC AUC of a single class) cannot show an improvement, so the candidate is rejected.
 */
export function gateDecision(
  metric: GateMetric,
  margin: number,
  candidate: number | null,
  production: number | null,
  productionVersion: string,
): GateOutcome {
  if (candidate === null || production === null) {
    return { promote: false, reason: `${metric} is undefined on the validation rows, so no improvement over version ${productionVersion} can be shown` };
  }
  const lower = lowerIsBetter(metric);
  const bar = lower ? production - margin : production + margin;
  const promote = lower ? candidate <= bar : candidate >= bar;
  const relation = promote ? (lower ? "<=" : ">=") : lower ? ">" : "<";
  const sign = lower ? "-" : "+";
  return {
    promote,
    reason: `${metric} ${show(candidate)} ${relation} ${show(production)} (production version ${productionVersion}) ${sign} margin ${show(margin)}`,
  };
}
