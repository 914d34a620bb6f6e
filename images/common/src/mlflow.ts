/**
 * A small typed client for the MLflow 3 REST API: experiments, runs, served artifacts and the model
 * registry with aliases, plus the files MLflow reads beside a model (MLmodel) and the datasets a run used.
 *
 * Why not the `mlflow` package from npm: its last release (2.0.7) targets the MLflow 1.x REST API, built
 * around registry stages, which MLflow 3 deprecates; it knows neither aliases nor uploads through the
 * tracking server's served-artifacts proxy, and those two are all the pipeline relies on. Task containers
 * therefore talk plain HTTP (global fetch) to the tracking server and never touch the artifact store.
 *
 * The client is one class built in layers, one file each below mlflow/: client.ts (HTTP, retries, errors),
 * runs.ts (experiments, runs, params, metrics, dataset inputs), artifacts.ts (served artifacts, path checks),
 * registry.ts (registered models, versions, aliases, `models:/` references), search.ts (filter literals). mlmodel.ts, datasets.ts and
 * colspec.ts write what MLflow's Python would: the MLmodel file, dataset entities and their schemas.
 *
 * Every failure the user can act on is an `InputError` (a `MlflowError`): its file part names the MLflow
 * URI concerned (`models:/<name>@<alias>`, `runs:/<run_id>/<path>`) or the tracking URI, and its problem
 * is one line. Connection errors and 5xx answers are retried a few times with a short backoff.
 */
import { InputError } from "./errors.ts";
import type { MlflowClientOptions } from "./mlflow/client.ts";
import { MlflowRegistry } from "./mlflow/registry.ts";

export { MlflowError, type MlflowClientOptions } from "./mlflow/client.ts";
export {
  LOG_BATCH_LIMITS,
  type Experiment,
  type LogBatchInput,
  type Metric,
  type MetricInput,
  type ParamValue,
  type Run,
  type RunInfo,
  type RunStatus,
} from "./mlflow/runs.ts";
export type { ArtifactFile } from "./mlflow/artifacts.ts";
export { filterValue, tagEquals } from "./mlflow/search.ts";
export { modelUri, parseModelUri, type ModelRef, type ModelVersion, type RegisteredModel } from "./mlflow/registry.ts";
export { DATASET_CONTEXT_TAG, DATASET_DIGEST_MAX, trainingDataset, type DatasetInput } from "./mlflow/datasets.ts";
export { MLMODEL_FILE, MLMODEL_FLAVOR, MLMODEL_MLFLOW_VERSION, mlmodelText, type MlmodelSpec } from "./mlflow/mlmodel.ts";
export {
  modelSignature,
  processedDataColumns,
  PROBABILITY_COLUMN,
  pythonJson,
  type ColSpec,
  type MlflowDataType,
} from "./mlflow/colspec.ts";

/** The MLflow client of the stages: every call of runs, artifacts and the registry, on one tracking server. */
export class MlflowClient extends MlflowRegistry {
  /** A client for `MLFLOW_TRACKING_URI`, the variable every MLflow client reads. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, options?: MlflowClientOptions): MlflowClient {
    const uri = env.MLFLOW_TRACKING_URI?.trim();
    if (!uri) throw new InputError("MLFLOW_TRACKING_URI", "not set, expected the MLflow server URL (e.g. http://mlflow:5000)");
    return new MlflowClient(uri, options);
  }
}
