import {
  DEFAULT_DATA_DIR,
  InputError,
  UsageError,
  dataPaths,
  parseDs,
  readCsv,
  sha256Files,
  toFrame,
  type Args,
  type Command,
} from "@airflow-ml-dags/common";
import {
  DEFAULT_HYPERPARAMS,
  FAMILIES,
  hyperparamProblem,
  saveModel,
  trainModel,
  type Hyperparams,
  type NumericHyperparam,
} from "@airflow-ml-dags/model";

/** CLI option → hyperparameter, with what --help says about it. */
const NUMERIC_OPTIONS: Record<string, { key: NumericHyperparam; help: string }> = {
  epochs: { key: "epochs", help: "passes over the training rows (mlp, logreg)" },
  "learning-rate": { key: "learningRate", help: "Adam learning rate (mlp, logreg)" },
  "batch-size": { key: "batchSize", help: "rows per gradient step (mlp, logreg)" },
  hidden: { key: "hidden", help: "units of the hidden layer (mlp)" },
  l2: { key: "l2", help: "L2 penalty on the weights, 0 for none (mlp, logreg)" },
  "max-depth": { key: "maxDepth", help: "deepest split (tree)" },
  "min-samples": { key: "minSamples", help: "a node with this many rows or fewer becomes a leaf (tree)" },
  seed: { key: "seed", help: "seed of the initial weights and of the per-epoch shuffle" },
};

export function readHyperparams(args: Args): Hyperparams {
  const hp: Hyperparams = { ...DEFAULT_HYPERPARAMS, family: args.choice("model", FAMILIES) };
  for (const [option, { key }] of Object.entries(NUMERIC_OPTIONS)) {
    const value = args.num(option);
    const problem = hyperparamProblem(key, value);
    if (problem) throw new UsageError(`--${option}: ${problem}`);
    hp[key] = value;
  }
  return hp;
}

export const trainCommand: Command = {
  summary: "Train a model on processed/{ds}/train.csv and write the model folder models/{ds}/.",
  options: {
    ds: { help: "run date YYYY-MM-DD" },
    model: { help: `model family: ${FAMILIES.join(", ")}`, default: DEFAULT_HYPERPARAMS.family },
    ...Object.fromEntries(
      Object.entries(NUMERIC_OPTIONS).map(([option, { key, help }]) => [option, { help, default: String(DEFAULT_HYPERPARAMS[key]) }]),
    ),
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    const hp = readHyperparams(args);
    const paths = dataPaths(args.str("data-dir"), ds);
    const frame = toFrame(await readCsv(paths.train), { withTarget: true });
    const dataSha256 = await sha256Files([paths.train]);
    log.info("training", { file: paths.train, rows: frame.ids.length, columns: frame.columns.length, hyperparams: hp });
    const trained = await trainModel(frame, hp, log);
    const finalLoss = trained.history[trained.history.length - 1];
    if (finalLoss === undefined) throw new InputError(paths.train, "training produced no loss");
    const { files } = await saveModel(paths.modelDir, trained, { ds, dataSha256 });
    trained.dispose();
    return { ds, family: hp.family, rows: trained.rows, finalLoss, modelDir: paths.modelDir, files };
  },
};
