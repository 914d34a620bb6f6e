/**
 * The day's numbers in MLflow (only with MLFLOW_TRACKING_URI set): one run per model version in the experiment
 * `<experiment>-monitoring`, named `monitor-v<version>`, found by name or created, and one point per day of
 * each metric at step = days since 1970 and timestamp = midnight UTC of ds, so a rerun of a day on the same inputs
 * logs the same point again, which MLflow keeps once. A rerun on changed inputs (labels corrected later) adds a
 * second point at that step: MLflow cannot delete one, and its charts show both. The day's page is uploaded as
 * `reports/{ds}/report.html`, replacing the earlier one.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Logger,
  MlflowClient,
  dayNumber,
  experimentName,
  imageTags,
  parseModelUri,
  trackingClient,
} from "@airflow-ml-dags/common";
import { maxPsi, type Report } from "./report.ts";

/** The client with the one call monitoring needs that the shared one lacks: a run found by its name. */
class MonitoringClient extends MlflowClient {
  /** The id of the active run of that name in the experiment (the first created, should there be two). */
  async findRunId(experimentId: string, name: string): Promise<string | undefined> {
    const r = await this.api<{ runs?: { info: { run_id: string } }[] }>(
      "POST",
      "runs/search",
      {
        experiment_ids: [experimentId],
        filter: `attributes.run_name = '${name}'`,
        run_view_type: "ACTIVE_ONLY",
        order_by: ["attributes.start_time ASC"],
        max_results: 1,
      },
      this.trackingUri,
      true,
    );
    return r.runs?.[0]?.info.run_id;
  }
}

export const monitoringExperiment = (env: NodeJS.ProcessEnv = process.env) => `${experimentName(env)}-monitoring`;

/** `monitor-v3` for a registry version; a model folder has none: `monitor-models-<model_ds>`. */
export const runName = (model: Report["model"]) => (model.version !== null ? `monitor-v${model.version}` : `monitor-models-${model.model_ds}`);

/** The day's metrics: what a chart in MLflow draws across days. An undefined ROC AUC is left out. */
export function dayMetrics(r: Report): { key: string; value: number; step: number; timestamp: number }[] {
  const at = { step: dayNumber(r.ds), timestamp: Date.parse(`${r.ds}T00:00:00Z`) };
  const values: Record<string, number | null> = {
    monitor_roc_auc: r.quality.roc_auc,
    monitor_log_loss: r.quality.log_loss,
    monitor_accuracy: r.quality.accuracy,
    monitor_max_psi: maxPsi(r).value,
    monitor_scores_psi: r.drift.scores.psi,
  };
  return Object.entries(values)
    .filter((e): e is [string, number] => e[1] !== null)
    .map(([key, value]) => ({ key, value, ...at }));
}

/** Logs the day; returns the run (undefined with MLflow off). Any failure is one error line naming the URI. */
export async function logDay(log: Logger, report: Report, page: string): Promise<{ runId: string; experimentId: string } | undefined> {
  const shared = trackingClient(log);
  if (!shared) return undefined;
  const mlflow = new MonitoringClient(shared.trackingUri);
  const experiment = await mlflow.getOrCreateExperiment(monitoringExperiment());
  const name = runName(report.model);
  const tags: Record<string, string> = { model_version: report.model.version ?? "none", model_ds: report.model.model_ds, ...imageTags() };
  if (report.model.version !== null) {
    try {
      tags.registered_model = parseModelUri(report.model.ref).name;
    } catch {
      // A reference predict took that names no registered model (a folder): the tag stays out.
    }
  }
  const runId =
    (await mlflow.findRunId(experiment.experimentId, name)) ?? (await mlflow.createRun(experiment.experimentId, { name, tags })).info.runId;
  await mlflow.logBatch(runId, { metrics: dayMetrics(report), tags: { ...tags, last_ds: report.ds, last_verdict: report.verdict } });
  // uploadArtifacts sends a folder: one holding only the page.
  const tmp = await mkdtemp(join(tmpdir(), "monitor-report-"));
  try {
    await writeFile(join(tmp, "report.html"), page);
    await mlflow.uploadArtifacts(runId, tmp, `reports/${report.ds}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  // Each day ends the run FINISHED; the next day logs into it again (MLflow allows it while the run is active).
  await mlflow.finishRun(runId, "FINISHED");
  log.info("logged to MLflow", { experiment: experiment.name, run_id: runId, run_name: name });
  return { runId, experimentId: experiment.experimentId };
}
