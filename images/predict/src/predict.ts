import {
  DEFAULT_DATA_DIR,
  dataPaths,
  fmt,
  parseDs,
  readCsv,
  toCsv,
  toFrame,
  underDataDir,
  writeFileAtomic,
  type Command,
} from "@airflow-ml-dags/common";
import { loadModel } from "@airflow-ml-dags/model";

export const predictCommand: Command = {
  summary: "Score raw/{ds}/data.csv with a trained model folder and write predictions/{ds}/predictions.csv (id,probability,label).",
  options: {
    ds: { help: "run date YYYY-MM-DD" },
    model: { help: "model folder: absolute, or relative to the data folder (e.g. models/2026-03-02)" },
    threshold: { help: "label 1 when the probability is at least this", default: "0.5" },
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    const dataDir = args.str("data-dir");
    const modelDir = underDataDir(dataDir, args.str("model"));
    const threshold = args.num("threshold", { min: 0, max: 1 });
    const paths = dataPaths(dataDir, ds);
    const model = await loadModel(modelDir);
    log.info("model loaded", { modelDir, family: model.family, trainedDs: model.manifest.ds });
    const frame = toFrame(await readCsv(paths.data), { withTarget: false, expected: model.columns });
    const proba = model.predictProba(frame);
    model.dispose();
    let positives = 0;
    const rows = frame.ids.map((id, i) => {
      const p = fmt(proba[i] as number);
      // The label follows the probability as written, so the file agrees with itself at the threshold.
      const label = Number(p) >= threshold ? 1 : 0;
      positives += label;
      return [id, p, label];
    });
    await writeFileAtomic(paths.predictions, toCsv(["id", "probability", "label"], rows));
    return {
      ds,
      rows: rows.length,
      positiveRate: rows.length ? positives / rows.length : 0,
      threshold,
      output: paths.predictions,
      modelDir,
      modelDs: model.manifest.ds,
      family: model.family,
    };
  },
};
