import {
  DEFAULT_DATA_DIR,
  InputError,
  MODEL_ARTIFACT_PATH,
  UsageError,
  dataPaths,
  experimentName,
  imageTags,
  parseDs,
  readFrame,
  sha256Files,
  trackingClient,
  type Args,
  type Command,
  type Logger,
  type MetricInput,
  type MlflowClient,
  type ParamValue,
} from "@airflow-ml-dags/common";
import {
  DEFAULT_HYPERPARAMS,
  FAMILIES,
  hyperparamProblem,
  saveModel,
  trainingSet,
  trainModel,
  type Hyperparams,
  type NumericHyperparam,
  type TrainingSet,
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

/** camelCase → snake_case, the naming MLflow's own integrations use for params. */
const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The days the training rows come from, read from their ids: generate writes `YYYYMMDD-NNNNNN`.
 * Undefined when any id has another form, since a partial answer would misstate the data.
 */
export function dataDates(ids: string[]): string[] | undefined {
  const days = new Set<string>();
  for (const id of ids) {
    const m = /^(\d{4})(\d{2})(\d{2})-\d+$/.exec(id);
    if (!m) return undefined;
    days.add(`${m[1]}-${m[2]}-${m[3]}`);
  }
  return [...days].sort();
}

/** Every hyperparameter, the run date, and what the training data was: the run's params. */
export function trainParams(
  hp: Hyperparams,
  info: { ds: string; rows: number; positives: number; dataSha256: string; ids: string[] },
): Record<string, ParamValue> {
  const params: Record<string, ParamValue> = {};
  for (const [key, value] of Object.entries(hp)) params[snake(key)] = value;
  params.ds = info.ds;
  params.train_rows = info.rows;
  params.train_positive_rate = info.positives / info.rows;
  params.data_sha256 = info.dataSha256;
  const days = dataDates(info.ids);
  if (days && days.length > 0) {
    params.data_from = days[0] as string;
    params.data_to = days[days.length - 1] as string;
    params.data_days = days.length;
  }
  return params;
}

/**
 * Reads the training rows and makes the model inputs and the run's params from them. The frame read stays
 * in here, so its ids are garbage before training starts; its numbers become the model inputs in place.
 */
async function readTrainingSet(
  path: string,
  hp: Hyperparams,
  ds: string,
): Promise<{ set: TrainingSet; dataSha256: string; params: Record<string, ParamValue> }> {
  const frame = await readFrame(path, { withTarget: true });
  const dataSha256 = await sha256Files([path]);
  const set = trainingSet(frame, { overwrite: true });
  const params = trainParams(hp, { ds, rows: frame.ids.length, positives: set.positives, dataSha256, ids: frame.ids });
  return { set, dataSha256, params };
}

/**
 * Marks the run FAILED after an error, so the MLflow UI does not show it RUNNING forever. The error that
 * failed the stage is the one reported; not being able to mark the run is said in a warning beside it.
 */
async function markFailed(mlflow: MlflowClient, runId: string, log: Logger): Promise<void> {
  try {
    await mlflow.finishRun(runId, "FAILED");
  } catch (err) {
    log.warn("could not mark the MLflow run FAILED", { run_id: runId, problem: (err as Error).message });
  }
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
    const { set, dataSha256, params } = await readTrainingSet(paths.train, hp, ds);

    // The run exists before training starts, so an unreachable server fails the task at once, not after
    // minutes of training, and with nothing written.
    const mlflow = trackingClient(log);
    let tracked: { mlflow: MlflowClient; runId: string; experimentId: string } | undefined;
    if (mlflow) {
      const experiment = await mlflow.getOrCreateExperiment(experimentName());
      const created = await mlflow.createRun(experiment.experimentId, {
        name: `train-${ds}`,
        tags: { ds, family: hp.family, stage: "train", ...imageTags() },
      });
      tracked = { mlflow, runId: created.info.runId, experimentId: experiment.experimentId };
      log.info("MLflow run started", { run_id: tracked.runId, experiment: experiment.name, experiment_id: tracked.experimentId });
    }

    try {
      await tracked?.mlflow.logParams(tracked.runId, params);
      log.info("training", { file: paths.train, rows: set.y.length, columns: set.columns.length, hyperparams: hp });
      // Epoch losses are sent in one batch after training: the epoch callback cannot wait for the network.
      const losses: MetricInput[] = [];
      const trained = await trainModel(set, hp, log, (epoch, loss) =>
        losses.push({ key: "loss", value: loss, step: epoch, timestamp: Date.now() }),
      );
      try {
        const finalLoss = trained.history[trained.history.length - 1];
        if (finalLoss === undefined) throw new InputError(paths.train, "training produced no loss");
        await tracked?.mlflow.logBatch(tracked.runId, { metrics: losses });
        const run = tracked ? { runId: tracked.runId, experimentId: tracked.experimentId } : undefined;
        const { files } = await saveModel(
          paths.modelDir,
          trained,
          { ds, dataSha256, ...(run ? { run } : {}) },
          {
            // Uploaded and finished before the folder is swapped in: the model appears locally only
            // once MLflow holds the same files, so validate can always register what it scores.
            beforeCommit: tracked
              ? async (tmp) => {
                  await tracked.mlflow.uploadArtifacts(tracked.runId, tmp, MODEL_ARTIFACT_PATH);
                  await tracked.mlflow.finishRun(tracked.runId, "FINISHED");
                }
              : undefined,
          },
        );
        return {
          ds,
          family: hp.family,
          rows: trained.rows,
          finalLoss,
          modelDir: paths.modelDir,
          files,
          runId: run?.runId ?? null,
          experimentId: run?.experimentId ?? null,
        };
      } finally {
        trained.dispose();
      }
    } catch (err) {
      if (tracked) await markFailed(tracked.mlflow, tracked.runId, log);
      throw err;
    }
  },
};
