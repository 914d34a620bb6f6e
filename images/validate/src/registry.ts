/**
 * What validate does in MLflow: logs the validation metrics on the training run, registers the model as a
 * new version, and runs the quality gate that decides whether the version becomes `production`. Also the
 * manual path (`promote`) that moves an alias to any version, to promote or roll back by hand.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import {
  InputError,
  MODEL_ARTIFACT_PATH,
  PRODUCTION_ALIAS,
  imageDigests,
  modelUri,
  type Logger,
  type MetricInput,
  type MlflowClient,
  type ModelVersion,
} from "@airflow-ml-dags/common";
import { loadModel, type Manifest } from "@airflow-ml-dags/model";
import { gateDecision, gateValue, type GateMetric, type GateOutcome } from "./gate.ts";
import { computeMetrics, type Metrics } from "@airflow-ml-dags/model/metrics";
import { scoreFile } from "./score.ts";

export type ApprovalMode = "required" | "gate";
/** Where a version stands with the person who decides its rollout (`not_needed`: the gate decided alone). */
export type ApprovalStatus = "not_needed" | "pending" | "approved" | "rejected" | "timed_out";

export interface ApprovalRecord {
  mode: ApprovalMode;
  status: ApprovalStatus;
  /** How long a pending decision waits before it ends as a rejection; null when nobody is asked. */
  timeout_days: number | null;
  /** Who decided, their comment and when (ISO 8601): set once a decision is recorded. */
  by?: string;
  comment?: string;
  at?: string;
}

/** What metrics.json records under `registry`. */
export interface RegistryRecord {
  name: string;
  version: string;
  /** `pending`: the gate passed the version and a person decides whether it takes the alias. */
  decision: "promoted" | "rejected" | "pending";
  reason: string;
  metric: GateMetric;
  margin: number;
  /** The production version the candidate was compared with (the alias before the gate); null for the first version. */
  production_version: string | null;
  /** The gate metric of the candidate and of that production version, on the same validation rows. */
  candidate: number | null;
  production: number | null;
  /** Every metric of that production version on the same rows, for the reviewer to compare; null without one. */
  production_metrics: Metrics | null;
  /** The MLflow run that trained the candidate. */
  run_id: string;
  experiment_id: string | null;
  approval: ApprovalRecord;
}

/** Version tags of a person's decision: `approval` holds the status, the others who, why and when. */
const TAG_APPROVAL = "approval";
const DECIDED: readonly ApprovalStatus[] = ["approved", "rejected", "timed_out"];

/** The decision a person (or the timeout) already recorded on a version, from its tags; undefined when none. */
export function decidedApproval(tags: Record<string, string>): Pick<ApprovalRecord, "status" | "by" | "comment" | "at"> | undefined {
  const status = tags[TAG_APPROVAL] as ApprovalStatus | undefined;
  if (status === undefined || !DECIDED.includes(status)) return undefined;
  const by = status === "approved" ? tags.approved_by : tags.rejected_by;
  return { status, by: by ?? "", comment: tags.approval_comment ?? "", at: tags.approval_at ?? "" };
}

/** Run tags that remember the version made from a run, so a retried validate gates it instead of registering another. */
const RUN_TAG_MODEL = "registered_model";
const RUN_TAG_VERSION = "registered_version";

/** The validation metrics as `val_*` metrics of the run; an undefined ROC AUC is left out rather than logged as NaN. */
export function valMetrics(metrics: Metrics): MetricInput[] {
  const values: Record<string, number | null> = {
    val_rows: metrics.rows,
    val_positive_rate: metrics.positive_rate,
    val_accuracy: metrics.accuracy,
    val_precision: metrics.precision,
    val_recall: metrics.recall,
    val_f1: metrics.f1,
    val_roc_auc: metrics.roc_auc,
    val_log_loss: metrics.log_loss,
    val_tn: metrics.confusion_matrix.tn,
    val_fp: metrics.confusion_matrix.fp,
    val_fn: metrics.confusion_matrix.fn,
    val_tp: metrics.confusion_matrix.tp,
  };
  return Object.entries(values)
    .filter((e): e is [string, number] => e[1] !== null)
    .map(([key, value]) => ({ key, value }));
}

/** Tags of a new model version: where it comes from (data, code, images), so any version can be traced back. */
export function versionTags(manifest: Manifest, valDs: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const tags: Record<string, string> = { ds: manifest.ds, data_sha256: manifest.dataSha256, family: manifest.family, val_ds: valDs };
  const gitSha = manifest.gitSha ?? env.AML_GIT_SHA;
  if (gitSha) tags.git_sha = gitSha;
  if (manifest.image) tags.image = manifest.image;
  if (manifest.imageVersion) tags.image_version = manifest.imageVersion;
  const digests = imageDigests(env);
  if (digests) tags.image_digests = JSON.stringify(digests);
  return tags;
}

const showValue = (v: number | null) => (v === null ? "undefined" : String(v));

/**
 * Scores a registered version on the validation rows: downloaded into a temporary folder (removed
 * afterwards) and loaded with the same code that loads a local model. Errors name the `models:/` URI,
 * not the temporary folder.
 */
export async function scoreVersion(
  mlflow: MlflowClient,
  name: string,
  version: string,
  val: { path: string; targets: Uint8Array },
  threshold: number,
): Promise<Metrics> {
  const uri = modelUri(name, { version });
  const tmp = await mkdtemp(join(tmpdir(), "validate-production-"));
  try {
    const dir = join(tmp, "model");
    await mlflow.downloadModel(uri, dir);
    let model;
    try {
      model = await loadModel(dir);
    } catch (err) {
      if (err instanceof InputError && err.file.startsWith(dir)) {
        throw new InputError(uri, `${relative(dir, err.file) || "model folder"}: ${err.problem}`);
      }
      throw err;
    }
    try {
      let scored;
      try {
        scored = await scoreFile(model, val.path, val.targets);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        throw new InputError(val.path, `cannot score production version ${version} (${uri}) on it: ${err.problem}`);
      }
      return computeMetrics(scored.y, scored.p, threshold);
    } finally {
      model.dispose();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Moves `alias` to `version` and tags the version with who moved it and why. Returns the version it left.
 * `retriedFrom` is what `promoted_from` says when the alias already points at the version: a retry after
 * the alias moved would otherwise record the version as promoted from itself.
 */
export async function promoteVersion(
  mlflow: MlflowClient,
  opts: { name: string; version: string; alias: string; by: string; reason: string; retriedFrom?: string | null },
): Promise<{ previous: string | null }> {
  // Refuses a version that does not exist, naming models:/<name>/<version>, before anything changes.
  await mlflow.getModelVersion(opts.name, opts.version);
  const current = (await mlflow.getRegisteredModel(opts.name))?.aliases[opts.alias] ?? null;
  const previous = current === opts.version && opts.retriedFrom !== undefined ? opts.retriedFrom : current;
  if (current !== opts.version) await mlflow.setAlias(opts.name, opts.alias, opts.version);
  const tags = { promoted_by: opts.by, promotion_reason: opts.reason, promoted_from: previous ?? "none" };
  for (const [key, value] of Object.entries(tags)) await mlflow.setModelVersionTag(opts.name, opts.version, key, value);
  return { previous };
}

export interface GateInput {
  mlflow: MlflowClient;
  log: Logger;
  name: string;
  manifest: Manifest;
  manifestPath: string;
  valDs: string;
  valPath: string;
  /** The validation rows' targets as the candidate was scored on them. */
  valTargets: Uint8Array;
  threshold: number;
  metrics: Metrics;
  metric: GateMetric;
  margin: number;
  /** `required`: a version the gate passes over an existing production version waits for a person. */
  approval: ApprovalMode;
  approvalTimeoutDays: number;
}

/** The run's version of `name` if a previous attempt registered it, else a new version. */
async function registerVersion(input: GateInput, runId: string, runTags: Record<string, string>): Promise<ModelVersion> {
  const { mlflow, log, name } = input;
  const earlier = runTags[RUN_TAG_MODEL] === name ? runTags[RUN_TAG_VERSION] : undefined;
  if (earlier) {
    log.info("model version already registered from this run", { name, version: earlier, run_id: runId });
    return mlflow.getModelVersion(name, earlier);
  }
  await mlflow.createRegisteredModelIfMissing(name, {
    description: `Classifier trained by the airflow-ml-dags train_model DAG; predict scores with the version aliased "${PRODUCTION_ALIAS}".`,
  });
  const version = await mlflow.createModelVersion(name, runId, MODEL_ARTIFACT_PATH, { tags: versionTags(input.manifest, input.valDs) });
  await mlflow.setTags(runId, { [RUN_TAG_MODEL]: name, [RUN_TAG_VERSION]: version.version });
  log.info("model version registered", { name, version: version.version, run_id: runId });
  return version;
}

/**
 * Logs `val_*` on the run that trained the model, registers its `model` artifacts as a version, then the
 * gate: no production version → this one becomes production ("first version"); otherwise the production
 * version is scored on the same rows and the alias moves only if the candidate wins by the margin, else
 * the version is tagged `rejected` with the reason.
 */
export async function registerAndGate(input: GateInput): Promise<RegistryRecord> {
  const { mlflow, log, name, manifest, metric, margin } = input;
  const runId = manifest.runId;
  if (!runId) {
    throw new InputError(
      input.manifestPath,
      'has no MLflow "runId": the model was trained without MLFLOW_TRACKING_URI, so there is nothing to register; train it again with MLflow on',
    );
  }
  const run = await mlflow.getRun(runId);
  await mlflow.logBatch(runId, { metrics: valMetrics(input.metrics), tags: { val_ds: input.valDs, val_threshold: String(input.threshold) } });
  const version = await registerVersion(input, runId, run.tags);
  const v = version.version;

  const candidate = gateValue(input.metrics, metric);
  const productionVersion = (await mlflow.getRegisteredModel(name))?.aliases[PRODUCTION_ALIAS] ?? null;
  let production: number | null = null;
  let productionMetrics: Metrics | null = null;
  let outcome: GateOutcome;
  if (productionVersion === null) {
    outcome = { promote: true, reason: "first version" };
  } else if (productionVersion === v) {
    // A retry after the alias already moved: the decision was made and stands.
    production = candidate;
    outcome = { promote: true, reason: "already production" };
  } else {
    productionMetrics = await scoreVersion(mlflow, name, productionVersion, { path: input.valPath, targets: input.valTargets }, input.threshold);
    production = gateValue(productionMetrics, metric);
    outcome = gateDecision(metric, margin, candidate, production, productionVersion);
    log.info("production version scored on the same rows", { version: productionVersion, [metric]: production, candidate });
  }

  const gateTags: Record<string, string> = {
    gate_metric: metric,
    gate_margin: String(margin),
    [`gate_${metric}`]: showValue(candidate),
    ...(productionVersion !== null
      ? { gate_production_version: productionVersion, [`gate_production_${metric}`]: showValue(production) }
      : {}),
  };
  for (const [key, value] of Object.entries(gateTags)) await mlflow.setModelVersionTag(name, v, key, value);

  const mode = input.approval;
  let approval: ApprovalRecord = { mode, status: "not_needed", timeout_days: null };
  let decision: RegistryRecord["decision"];
  const earlier = decidedApproval(version.tags);
  if (earlier) {
    // A validate run again after a person decided on this version: the decision stands, and the gate
    // must neither ask again nor move the alias against it.
    approval = { mode, timeout_days: null, ...earlier };
    decision = earlier.status === "approved" ? "promoted" : "rejected";
    log.info("a decision on this version is already recorded", { name, version: v, approval: earlier.status, by: earlier.by });
  } else if (outcome.promote && mode === "required" && productionVersion !== null && productionVersion !== v) {
    // The first version is not held back: with no production model predict would have nothing to score with.
    approval = { mode, status: "pending", timeout_days: input.approvalTimeoutDays };
    decision = "pending";
    await mlflow.setModelVersionTag(name, v, TAG_APPROVAL, "pending");
  } else if (outcome.promote) {
    decision = "promoted";
    if (productionVersion !== v) {
      await promoteVersion(mlflow, { name, version: v, alias: PRODUCTION_ALIAS, by: "gate", reason: outcome.reason });
    }
  } else {
    decision = "rejected";
    await mlflow.setModelVersionTag(name, v, "rejected", outcome.reason);
  }
  // Last, so a version carries a decision tag only once the alias, the rejection or the pending mark is in place.
  await mlflow.setModelVersionTag(name, v, "gate_decision", decision);
  await mlflow.setTags(runId, { gate_decision: decision, approval: approval.status });
  log.info(`model version ${decision}`, { name, version: v, reason: outcome.reason, approval: approval.status });
  return {
    name,
    version: v,
    decision,
    reason: outcome.reason,
    metric,
    margin,
    production_version: productionVersion,
    candidate,
    production,
    production_metrics: productionMetrics,
    run_id: runId,
    experiment_id: manifest.experimentId ?? null,
    approval,
  };
}

export interface Decision {
  approved: boolean;
  /** Who decided: the reviewer's user name, or what ended the wait. */
  by: string;
  comment: string;
  /** When, ISO 8601 (the reviewer's answer, not the time this runs). */
  at: string;
  /** No answer within the timeout: a rejection nobody made. */
  timedOut: boolean;
}

/**
 * Records a person's decision on the pending version of `record` (metrics.json's registry block): on
 * approval the version takes the production alias (promoted_by=approval); on rejection it is tagged
 * rejected. The version and the training run carry who, the comment and the time. Each step can be
 * repeated, so a retried task finishes what a failed one began; a version already decided the other way
 * is refused.
 */
export async function recordDecision(mlflow: MlflowClient, log: Logger, record: RegistryRecord, d: Decision, file: string): Promise<RegistryRecord> {
  const { name, version: v } = record;
  const status: ApprovalStatus = d.approved ? "approved" : d.timedOut ? "timed_out" : "rejected";
  const recorded = decidedApproval((await mlflow.getModelVersion(name, v)).tags);
  if (recorded && recorded.status !== status) {
    throw new InputError(`models:/${name}/${v}`, `already ${recorded.status.replace("_", " ")} by ${recorded.by}; refusing to record it as ${status.replace("_", " ")}`);
  }
  if (!recorded && record.approval?.status !== "pending") {
    throw new InputError(file, `registry: version ${v} is not waiting for a decision (decision ${record.decision}, approval ${record.approval?.status ?? "none"})`);
  }
  const reason = d.comment || (d.timedOut ? `no decision within ${record.approval.timeout_days} days` : `${status} by ${d.by}`);
  const tags: Record<string, string> = {
    [d.approved ? "approved_by" : "rejected_by"]: d.by,
    approval_comment: d.comment,
    approval_at: d.at,
  };
  for (const [key, value] of Object.entries(tags)) await mlflow.setModelVersionTag(name, v, key, value);
  if (d.approved) {
    const { previous } = await promoteVersion(mlflow, { name, version: v, alias: PRODUCTION_ALIAS, by: "approval", reason, retriedFrom: record.production_version });
    log.info("approved: alias moved", { name, alias: PRODUCTION_ALIAS, version: v, previous_version: previous, by: d.by });
  } else {
    await mlflow.setModelVersionTag(name, v, "rejected", reason);
    log.info(`${status.replace("_", " ")}: production alias left where it is`, { name, version: v, by: d.by });
  }
  // Last, as the gate does: the status tag says the decision is complete.
  await mlflow.setModelVersionTag(name, v, TAG_APPROVAL, status);
  await mlflow.setTags(record.run_id, { approval: status, [d.approved ? "approved_by" : "rejected_by"]: d.by, approval_at: d.at });
  return {
    ...record,
    decision: d.approved ? "promoted" : "rejected",
    reason: d.approved ? record.reason : reason,
    approval: { ...record.approval, status, by: d.by, comment: d.comment, at: d.at },
  };
}
