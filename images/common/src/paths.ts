import { isAbsolute, resolve } from "node:path";
import { DATA_DIR, layoutPath } from "./contract.ts";
import { UsageError } from "./errors.ts";

/** Task containers see the host data folder here. */
export const DEFAULT_DATA_DIR = DATA_DIR;

const DS_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Checks a run date (Airflow's `ds`): the format and that the day exists. */
export function parseDs(ds: string, option = "--ds"): string {
  const m = DS_RE.exec(ds);
  const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !date || date.toISOString().slice(0, 10) !== ds) {
    throw new UsageError(`${option}: expected a date YYYY-MM-DD, got "${ds}"`);
  }
  return ds;
}

/** Days since 1970-01-01 of a checked ds. */
export const dayNumber = (ds: string) => Math.round(Date.parse(`${ds}T00:00:00Z`) / 86_400_000);

/** The `n` dates ending at `ds`, oldest first. */
export function lastDays(ds: string, n: number): string[] {
  const end = dayNumber(ds);
  return Array.from({ length: n }, (_, i) => new Date((end - n + 1 + i) * 86_400_000).toISOString().slice(0, 10));
}

/** The folder layout of the contract, for one run date under `dataDir`: no stage spells a path itself. */
export function dataPaths(dataDir: string, ds: string) {
  const at = (key: Parameters<typeof layoutPath>[1]) => layoutPath(dataDir, key, ds);
  return {
    rawDir: at("raw_dir"),
    data: at("raw_data"),
    target: at("raw_target"),
    processedDir: at("processed_dir"),
    trainData: at("train_data"),
    train: at("train"),
    val: at("val"),
    modelDir: at("model_dir"),
    predictionsDir: at("predictions_dir"),
    predictions: at("predictions"),
    predictionsManifest: at("predictions_manifest"),
  };
}

/** A path option may be absolute or relative to the data folder (how the `model_ref` Variable is usually written). */
export const underDataDir = (dataDir: string, p: string) => (isAbsolute(p) ? p : resolve(dataDir, p));
