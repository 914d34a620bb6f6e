import { join } from "node:path";
import {
  type Args,
  type Command,
  InputError,
  type Logger,
  UsageError,
  DEFAULT_DATA_DIR,
  DEFAULT_REGISTERED_MODEL,
  MlflowClient,
  PRODUCTION_ALIAS,
  checkAlias,
  choiceOption,
  cliOptions,
  dataPaths,
  numberOption,
  parseDs,
  profileColumn,
  registeredModelName,
  trackingClient,
  underDataDir,
  writeFileAtomic,
  type ColumnProfile,
} from "@airflow-ml-dags/common";
import { MANIFEST_JSON, backendOption, chooseBackend, loadModel } from "@airflow-ml-dags/model";
import type { GateMetric } from "./gate.ts";
import { computeMetrics, type Metrics } from "@airflow-ml-dags/model/metrics";
import { readFile } from "node:fs/promises";
import {
  promoteVersion,
  recordDecision,
  registerAndGate,
  type ApprovalMode,
  type Decision,
  type RegistryRecord,
} from "./registry.ts";
import { scoreFile } from "./score.ts";

export const METRICS_FILE = "metrics.json";

const REGISTERED_MODEL_HELP = `registered model name (default: MLFLOW_REGISTERED_MODEL, else ${DEFAULT_REGISTERED_MODEL})`;

export const validateCommand: Command = {
  summary:
    `Scores processed/{ds}/val.csv with a trained model and writes ${METRICS_FILE} in the model folder; with ` +
    `MLFLOW_TRACKING_URI set, also logs val_* metrics on the training run, registers the model and runs the quality gate.`,
  options: {
    ds: { help: "run date YYYY-MM-DD (which validation split to score)" },
    "model-dir": { help: "model folder, absolute or relative to the data folder (default: models/{ds})" },
    ...cliOptions("validate"),
    // Scoring the validation rows takes the same second on either backend; TensorFlow's library doubles the memory.
    backend: backendOption("cpu"),
    "registered-model": { help: REGISTERED_MODEL_HELP },
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    chooseBackend(args.str("backend"));
    const threshold = numberOption("threshold", args.str("threshold"));
    const metric = choiceOption<GateMetric>("gate_metric", args.str("gate-metric"));
    const margin = numberOption("gate_margin", args.str("gate-margin"));
    const approval = choiceOption<ApprovalMode>("approval", args.str("approval"));
    const approvalTimeoutDays = numberOption("approval_timeout_days", args.str("approval-timeout-days"));
    const name = registeredModelName(args.optStr("registered-model"));
    const dataDir = args.str("data-dir");
    const paths = dataPaths(dataDir, ds);
    const modelOption = args.optStr("model-dir");
    const modelDir = modelOption === undefined ? paths.modelDir : underDataDir(dataDir, modelOption);
    const mlflow = trackingClient(log);

    // loadModel refuses a missing or incomplete model folder with one line naming the file.
    const model = await loadModel(modelDir);
    const { ds: modelDs, family } = model.manifest;
    log.info("model loaded", { model_dir: modelDir, model_ds: modelDs, family });

    let metrics: Metrics;
    // The gate scores the production version on exactly these rows: their targets are kept to check that.
    let targets: Uint8Array;
    // The distribution of the candidate's probabilities on the validation rows: the monitor's baseline of
    // prediction drift.
    let scores: ColumnProfile;
    try {
      const scored = await scoreFile(model, paths.val);
      targets = scored.y;
      metrics = computeMetrics(scored.y, scored.p, threshold);
      scores = profileColumn(scored.p);
    } finally {
      model.dispose();
    }
    if (metrics.roc_auc === null) log.warn(`${paths.val}: ROC AUC ${metrics.roc_auc_note}`);

    // null when MLflow is off: the key stays, so readers of metrics.json see one shape.
    let registry: RegistryRecord | null = null;
    if (mlflow) {
      registry = await registerAndGate({
        mlflow,
        log,
        name,
        manifest: model.manifest,
        manifestPath: join(modelDir, MANIFEST_JSON),
        valDs: ds,
        valPath: paths.val,
        valTargets: targets,
        threshold,
        metrics,
        metric,
        margin,
        approval,
        approvalTimeoutDays,
      });
    }

    const out = { ds: modelDs, family, val_ds: ds, ...metrics, registry, scores };
    const metricsPath = join(modelDir, METRICS_FILE);
    await writeFileAtomic(metricsPath, `${JSON.stringify(out, null, 2)}\n`);
    log.info("written", { outputs: [metricsPath], accuracy: metrics.accuracy, roc_auc: metrics.roc_auc });
    return {
      ds,
      model_dir: modelDir,
      outputs: [metricsPath],
      decision: registry?.decision ?? null,
      version: registry?.version ?? null,
      // What the DAG's review step asks for: true when the version waits for a person's decision.
      pending_approval: registry?.decision === "pending",
      // The reviewer sees the training rows beside the validation rows metrics.json counts.
      train_rows: model.manifest.rows,
      metrics: out,
    };
  },
};

const DECISION_OPTIONS = {
  ds: { help: "run date YYYY-MM-DD whose pending version (models/{ds}/metrics.json) the decision is about" },
  comment: { help: "the reviewer's comment, kept in the version's approval_comment tag" },
  "decided-at": { help: "when the decision was made, ISO 8601 (default: now)" },
  "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
};

/** The pending version's registry block of models/{ds}/metrics.json, and the whole file to write it back into. */
async function pendingMetrics(dataDir: string, ds: string): Promise<{ path: string; metrics: Record<string, unknown>; registry: RegistryRecord }> {
  const path = join(dataPaths(dataDir, ds).modelDir, METRICS_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new InputError(path, "file not found: validate writes it");
    throw err;
  }
  let metrics: Record<string, unknown>;
  try {
    metrics = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new InputError(path, "not JSON");
  }
  const registry = metrics.registry as RegistryRecord | null | undefined;
  if (!registry || typeof registry.version !== "string" || !registry.approval) {
    throw new InputError(path, "registry: no registered version with an approval record (was validate run with MLflow on?)");
  }
  return { path, metrics, registry };
}

function decidedAt(raw: string | undefined): string {
  if (raw === undefined) return new Date().toISOString();
  const t = new Date(raw);
  if (Number.isNaN(t.getTime())) throw new UsageError(`--decided-at: expected an ISO 8601 time, got "${raw}"`);
  return t.toISOString();
}

/** The decision path shared by promote --ds and reject: MLflow first, metrics.json last (atomically), so the file says a decision is done only once it is. */
async function decide(args: Args, log: Logger, d: { approved: boolean; byOption: string; timedOut: boolean }) {
  // Every option is checked before anything is read, so a bad command line is always exit 2.
  const ds = parseDs(args.str("ds"));
  const decision: Decision = {
    approved: d.approved,
    by: args.str(d.byOption),
    timedOut: d.timedOut,
    comment: args.optStr("comment") ?? "",
    at: decidedAt(args.optStr("decided-at")),
  };
  const { path, metrics, registry } = await pendingMetrics(args.str("data-dir"), ds);
  const version = args.optStr("version");
  if (version !== undefined && version !== registry.version) {
    throw new InputError(path, `registry: the pending version is ${registry.version}, not --version ${version}`);
  }
  const mlflow = MlflowClient.fromEnv();
  const updated = await recordDecision(mlflow, log, registry, decision, path);
  await writeFileAtomic(path, `${JSON.stringify({ ...metrics, registry: updated }, null, 2)}\n`);
  log.info("written", { outputs: [path], decision: updated.decision, approval: updated.approval.status });
  return { ds, name: updated.name, version: updated.version, decision: updated.decision, approval: updated.approval, outputs: [path] };
}

export const promoteCommand: Command = {
  summary:
    `Points an alias (default "${PRODUCTION_ALIAS}") at a registered model version by hand, to promote or roll back; ` +
    `tags the version promoted_by=manual with the reason. With --ds, records a reviewer's approval of the version ` +
    `pending in models/{ds}/metrics.json instead: it takes "${PRODUCTION_ALIAS}", tagged promoted_by=approval and ` +
    `approved_by. Needs MLFLOW_TRACKING_URI.`,
  options: {
    version: { help: "model version to point the alias at (with --ds: optional, must be the pending one)" },
    alias: { help: "alias to move", default: PRODUCTION_ALIAS },
    "registered-model": { help: REGISTERED_MODEL_HELP },
    reason: { help: "why, kept in the version's promotion_reason tag", default: "manual promotion" },
    "approved-by": { help: "with --ds: the reviewer who approved" },
    ...DECISION_OPTIONS,
  },
  async run(args, log) {
    if (args.optStr("ds") !== undefined) {
      if (args.str("alias") !== PRODUCTION_ALIAS) throw new UsageError(`--alias: an approval moves "${PRODUCTION_ALIAS}" only`);
      return decide(args, log, { approved: true, byOption: "approved-by", timedOut: false });
    }
    const version = String(args.int("version", { min: 1 }));
    const alias = checkAlias(args.str("alias"));
    const name = registeredModelName(args.optStr("registered-model"));
    const reason = args.str("reason");
    const mlflow = MlflowClient.fromEnv();
    const { previous } = await promoteVersion(mlflow, { name, version, alias, by: "manual", reason });
    log.info("alias moved", { name, alias, version, previous_version: previous });
    return { name, alias, version, previous_version: previous };
  },
};

export const rejectCommand: Command = {
  summary:
    `Records a reviewer's rejection of the version pending in models/{ds}/metrics.json (or, with --ended-by timeout, that ` +
    `nobody decided in time): tags it rejected and rejected_by; "${PRODUCTION_ALIAS}" stays where it is. Needs MLFLOW_TRACKING_URI.`,
  options: {
    version: { help: "optional: must be the pending version" },
    "rejected-by": { help: "the reviewer who rejected (with --ended-by timeout: what ended the wait)" },
    // A value, not a flag: the DAG renders one command line for both endings.
    "ended-by": { help: "reviewer, or timeout when no decision came in time", default: "reviewer" },
    ...DECISION_OPTIONS,
  },
  async run(args, log) {
    return decide(args, log, { approved: false, byOption: "rejected-by", timedOut: args.choice("ended-by", ["reviewer", "timeout"]) === "timeout" });
  },
};
