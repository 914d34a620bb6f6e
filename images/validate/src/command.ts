import { join } from "node:path";
import {
  type Command,
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
import { MANIFEST_JSON, loadModel } from "@airflow-ml-dags/model";
import type { GateMetric } from "./gate.ts";
import { computeMetrics, type Metrics } from "@airflow-ml-dags/model/metrics";
import { promoteVersion, registerAndGate, type RegistryRecord } from "./registry.ts";
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
    "registered-model": { help: REGISTERED_MODEL_HELP },
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    const threshold = numberOption("threshold", args.str("threshold"));
    const metric = choiceOption<GateMetric>("gate_metric", args.str("gate-metric"));
    const margin = numberOption("gate_margin", args.str("gate-margin"));
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
      metrics: out,
    };
  },
};

export const promoteCommand: Command = {
  summary:
    `Points an alias (default "${PRODUCTION_ALIAS}") at a registered model version by hand, to promote or roll back; ` +
    `tags the version promoted_by=manual with the reason. Needs MLFLOW_TRACKING_URI.`,
  options: {
    version: { help: "model version to point the alias at" },
    alias: { help: "alias to move", default: PRODUCTION_ALIAS },
    "registered-model": { help: REGISTERED_MODEL_HELP },
    reason: { help: "why, kept in the version's promotion_reason tag", default: "manual promotion" },
  },
  async run(args, log) {
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
