/**
 * The quality gate's rule: a new model version takes the `production` alias only when it scores better
 * than the current production version, on the same validation rows, by at least a margin.
 */
import { GATE_METRICS, lowerIsBetter, type GateMetric } from "@airflow-ml-dags/common";
import type { Metrics } from "@airflow-ml-dags/model/metrics";

// The metrics and which way each is better are the contract's (contract/pipeline.json, gate_metrics).
export { GATE_METRICS, lowerIsBetter, type GateMetric };

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
