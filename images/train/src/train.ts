import {
  DEFAULT_DATA_DIR,
  InputError,
  MODEL_ARTIFACT_PATH,
  choiceOption,
  cliName,
  cliOptions,
  numberOption,
  dataPaths,
  experimentName,
  imageTags,
  parseDs,
  profileFrame,
  readFrame,
  refuseIfSuperseded,
  sha256Files,
  supersedeEarlierTries,
  taskTry,
  taskTryTags,
  trackingClient,
  type Args,
  type Command,
  type DataProfile,
  type Logger,
  type MetricInput,
  type MlflowClient,
  type ParamValue,
} from "@airflow-ml-dags/common";
import {
  backendOption,
  chooseBackend,
  DEFAULT_HYPERPARAMS,
  NUMERIC_HYPERPARAMS,
  saveModel,
  TRAINERS,
  trainingSet,
  trainModel,
  type Family,
  type Hyperparams,
  type TrainingSet,
} from "@airflow-ml-dags/model";

/** The hyperparameters from the command line: names, defaults and bounds are the contract's. */
export function readHyperparams(args: Args): Hyperparams {
  const hp = { ...DEFAULT_HYPERPARAMS, family: choiceOption<Family>("family", args.str("family")) };
  for (const key of NUMERIC_HYPERPARAMS) hp[key] = numberOption(key, args.str(cliName(key)));
  return hp;
}

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
  for (const [key, value] of Object.entries(hp)) params[key] = value;
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
 * Reads the training rows and makes the model inputs, their distribution profile and the run's params from
 * them. The frame read stays in here, so its ids are garbage before training starts; its numbers become the
 * model inputs in place, so the profile (of the raw values, before imputation and standardisation) is taken
 * first, a column at a time through one scratch column.
 */
async function readTrainingSet(
  path: string,
  hp: Hyperparams,
  ds: string,
): Promise<{ set: TrainingSet; profile: DataProfile; dataSha256: string; params: Record<string, ParamValue> }> {
  const frame = await readFrame(path, { withTarget: true });
  const dataSha256 = await sha256Files([path]);
  const profile = profileFrame(frame);
  const set = trainingSet(frame, { overwrite: true });
  const params = trainParams(hp, { ds, rows: frame.ids.length, positives: set.positives, dataSha256, ids: frame.ids });
  return { set, profile, dataSha256, params };
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
    ...cliOptions("train"),
    backend: backendOption("cpu"),
    // Not a hyperparameter: both give the same model within float rounding, so it is not in the contract.
    trainer: { help: `how a network is fitted: fused (one loop per batch) or tfjs (tfjs-layers' model.fit)`, default: TRAINERS[0] },
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    // Read before anything exists, so a malformed identity from the deployment fails with nothing written.
    const identity = taskTry();
    chooseBackend(args.str("backend"));
    const hp = readHyperparams(args);
    const trainer = args.choice("trainer", TRAINERS);
    // The tree has no trainer to choose.
    const how: Record<string, string> = hp.family === "tree" ? {} : { trainer };
    const paths = dataPaths(args.str("data-dir"), ds);
    const { set, profile, dataSha256, params } = await readTrainingSet(paths.train, hp, ds);

    // The run exists before training starts, so an unreachable server fails the task at once, not after
    // minutes of training, and with nothing written.
    const mlflow = trackingClient(log);
    let tracked: { mlflow: MlflowClient; runId: string; experimentId: string } | undefined;
    if (mlflow) {
      const experiment = await mlflow.getOrCreateExperiment(experimentName());
      const created = await mlflow.createRun(experiment.experimentId, {
        name: `train-${ds}`,
        tags: { ds, family: hp.family, stage: "train", ...how, ...imageTags(), ...(identity ? taskTryTags(identity) : {}) },
      });
      tracked = { mlflow, runId: created.info.runId, experimentId: experiment.experimentId };
      log.info("MLflow run started", { run_id: tracked.runId, experiment: experiment.name, experiment_id: tracked.experimentId });
    }

    try {
      // Before training, so the killed try's run stops looking current as soon as this try exists.
      if (tracked && identity) await supersedeEarlierTries(tracked.mlflow, { ...tracked, taskTry: identity }, log);
      await tracked?.mlflow.logParams(tracked.runId, params);
      await tracked?.mlflow.logTrainingData(tracked.runId, { ds, path: paths.train, sha256: dataSha256, rows: set.y.length });
      log.info("training", { file: paths.train, rows: set.y.length, columns: set.columns.length, hyperparams: hp, ...how });
      // Epoch losses are sent in one batch after training: the epoch callback cannot wait for the network.
      const losses: MetricInput[] = [];
      const trained = await trainModel(
        set,
        hp,
        log,
        (epoch, loss) => losses.push({ key: "loss", value: loss, step: epoch, timestamp: Date.now() }),
        { trainer },
      );
      try {
        const finalLoss = trained.history[trained.history.length - 1];
        if (finalLoss === undefined) throw new InputError(paths.train, "training produced no loss");
        await tracked?.mlflow.logBatch(tracked.runId, { metrics: losses });
        const run = tracked ? { runId: tracked.runId, experimentId: tracked.experimentId } : undefined;
        const { files } = await saveModel(
          paths.modelDir,
          trained,
          { ds, dataSha256, profile, ...(run ? { run } : {}) },
          {
            // With MLflow on, the folder gets MLflow's MLmodel file (the schema the UI shows for a version).
            mlmodel: tracked !== undefined,
            // Uploaded and finished before the folder is swapped in: the model appears locally only
            // once MLflow holds the same files, so validate can always register what it scores.
            // A try that a later one superseded meanwhile (its worker died, this container did not) must
            // not swap its folder over the later try's: it checks before uploading, and again after
            // finishing, since a later try may tag it between the two; the failure marks the run FAILED.
            beforeCommit: tracked
              ? async (tmp) => {
                  if (identity) await refuseIfSuperseded(tracked.mlflow, tracked.runId);
                  await tracked.mlflow.uploadArtifacts(tracked.runId, tmp, MODEL_ARTIFACT_PATH);
                  await tracked.mlflow.finishRun(tracked.runId, "FINISHED");
                  if (identity) await refuseIfSuperseded(tracked.mlflow, tracked.runId);
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
