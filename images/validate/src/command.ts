import { join } from "node:path";
import {
  type Command,
  DEFAULT_DATA_DIR,
  dataPaths,
  parseDs,
  readCsv,
  toFrame,
  underDataDir,
  writeFileAtomic,
} from "@airflow-ml-dags/common";
import { loadModel } from "@airflow-ml-dags/model";
import { computeMetrics, type Metrics } from "./metrics.ts";

export const METRICS_FILE = "metrics.json";

export const validateCommand: Command = {
  summary: `Scores processed/{ds}/val.csv with a trained model and writes the metrics to ${METRICS_FILE} in the model folder.`,
  options: {
    ds: { help: "run date YYYY-MM-DD (which validation split to score)" },
    "model-dir": { help: "model folder, absolute or relative to the data folder (default: models/{ds})" },
    threshold: { help: "probability at or above which a row is predicted 1", default: "0.5" },
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    const threshold = args.num("threshold", { min: 0, max: 1 });
    const dataDir = args.str("data-dir");
    const paths = dataPaths(dataDir, ds);
    const modelOption = args.optStr("model-dir");
    const modelDir = modelOption === undefined ? paths.modelDir : underDataDir(dataDir, modelOption);

    // loadModel refuses a missing or incomplete model folder with one line naming the file.
    const model = await loadModel(modelDir);
    const { ds: modelDs, family } = model.manifest;
    log.info("model loaded", { model_dir: modelDir, model_ds: modelDs, family });

    let metrics: Metrics;
    try {
      const frame = toFrame(await readCsv(paths.val), { expected: model.columns, withTarget: true });
      // withTarget refuses a file without a target column and toFrame any target other than 0 or 1.
      metrics = computeMetrics(frame.target as Uint8Array, model.predictProba(frame), threshold);
    } finally {
      model.dispose();
    }
    if (metrics.roc_auc === null) log.warn(`${paths.val}: ROC AUC ${metrics.roc_auc_note}`);

    const out = { ds: modelDs, family, val_ds: ds, ...metrics };
    const metricsPath = join(modelDir, METRICS_FILE);
    await writeFileAtomic(metricsPath, `${JSON.stringify(out, null, 2)}\n`);
    log.info("written", { outputs: [metricsPath], accuracy: metrics.accuracy, roc_auc: metrics.roc_auc });
    return { ds, model_dir: modelDir, outputs: [metricsPath], metrics: out };
  },
};
