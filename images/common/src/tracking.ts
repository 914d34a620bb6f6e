/**
 * When and how the stages use MLflow: only when `MLFLOW_TRACKING_URI` is set (the DAGs always set it), so
 * unit tests and offline runs work without a server. The names below are the defaults of docs/contracts.md.
 */
import { InputError, UsageError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { MODEL_ALIAS, MODEL_NAME, NAMES } from "./contract.ts";
import { MlflowClient } from "./mlflow.ts";

export const DEFAULT_EXPERIMENT_NAME = NAMES.experiment;
export const DEFAULT_REGISTERED_MODEL = NAMES.registered_model;
/** The alias predict's `model_ref` points at; MLflow 3 deprecates stages, aliases replace them. */
export const PRODUCTION_ALIAS = NAMES.production_alias;
/** Where train puts the model folder among the run's artifacts, and what a model version is made from. */
export const MODEL_ARTIFACT_PATH = NAMES.model_artifact_path;

/** The client for `MLFLOW_TRACKING_URI`, or undefined, said in one info line, when it is not set. */
export function trackingClient(log: Logger, env: NodeJS.ProcessEnv = process.env): MlflowClient | undefined {
  if (!env.MLFLOW_TRACKING_URI?.trim()) {
    log.info("MLflow off: MLFLOW_TRACKING_URI is not set, nothing is logged or registered");
    return undefined;
  }
  return MlflowClient.fromEnv(env);
}

export const experimentName = (env: NodeJS.ProcessEnv = process.env) =>
  env.MLFLOW_EXPERIMENT_NAME?.trim() || DEFAULT_EXPERIMENT_NAME;

/**
 * The registered model name: the option, else `MLFLOW_REGISTERED_MODEL`, else the default. A name outside
 * the contract's grammar (no `/`, `:`, `@` or spaces) is refused up front: no `models:/` reference could name it.
 */
export function registeredModelName(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.MLFLOW_REGISTERED_MODEL?.trim();
  const name = option ?? (fromEnv || DEFAULT_REGISTERED_MODEL);
  if (!MODEL_NAME.test(name)) {
    const problem = `"${name}" is not a usable registered model name (no "/", ":", "@" or spaces)`;
    if (option !== undefined) throw new UsageError(`--registered-model: ${problem}`);
    throw new InputError("MLFLOW_REGISTERED_MODEL", problem);
  }
  return name;
}

/** Checks an alias the way the server does (letters, digits, `_`, `-`), so a typo fails before any change. */
export function checkAlias(alias: string, option = "--alias"): string {
  if (!MODEL_ALIAS.test(alias)) throw new UsageError(`${option}: expected letters, digits, "_" or "-", got "${alias}"`);
  return alias;
}

/** Tags naming the image that runs, from what the image (AML_IMAGE_VERSION, AML_GIT_SHA) or the DAG (AML_IMAGE) sets. */
export function imageTags(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const tags: Record<string, string> = {};
  if (env.AML_IMAGE) tags.image = env.AML_IMAGE;
  if (env.AML_IMAGE_VERSION) tags.image_version = env.AML_IMAGE_VERSION;
  if (env.AML_GIT_SHA) tags.git_sha = env.AML_GIT_SHA;
  return tags;
}

/**
 * `AML_IMAGE_DIGESTS`: a JSON object of image (or stage) → digest, set by the deployment so a model
 * version records exactly which images made it. Undefined when unset; anything else than an object of
 * strings is refused rather than half-recorded.
 */
export function imageDigests(env: NodeJS.ProcessEnv = process.env): Record<string, string> | undefined {
  const raw = env.AML_IMAGE_DIGESTS?.trim();
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new InputError("AML_IMAGE_DIGESTS", `not valid JSON (${(err as Error).message})`);
  }
  const ok =
    typeof parsed === "object" &&
    parsed !== null &&
    !Array.isArray(parsed) &&
    Object.values(parsed).every((v) => typeof v === "string");
  if (!ok) throw new InputError("AML_IMAGE_DIGESTS", 'expected a JSON object of strings, e.g. {"train":"sha256:…"}');
  return parsed as Record<string, string>;
}
