import { isAbsolute, join, resolve } from "node:path";
import { UsageError } from "./errors.ts";

/** Task containers see the host data folder here. */
export const DEFAULT_DATA_DIR = "/data";

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

/** The folder layout shared with the DAGs: one place, so no stage spells a path differently. */
export function dataPaths(dataDir: string, ds: string) {
  const raw = join(dataDir, "raw", ds);
  const processed = join(dataDir, "processed", ds);
  const predictions = join(dataDir, "predictions", ds);
  return {
    rawDir: raw,
    data: join(raw, "data.csv"),
    target: join(raw, "target.csv"),
    processedDir: processed,
    trainData: join(processed, "train_data.csv"),
    train: join(processed, "train.csv"),
    val: join(processed, "val.csv"),
    modelDir: join(dataDir, "models", ds),
    predictionsDir: predictions,
    predictions: join(predictions, "predictions.csv"),
  };
}

/** A path option may be absolute or relative to the data folder (how the `model_ref` Variable is usually written). */
export const underDataDir = (dataDir: string, p: string) => (isAbsolute(p) ? p : resolve(dataDir, p));
