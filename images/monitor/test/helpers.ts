// A small data folder as the pipeline leaves it for the monitor: a model folder's profile.json and metrics.json,
// and for each day its raw data and labels and predict's predictions and manifest. No model is trained: the
// "model" is a fixed score of the features, which is all the monitor sees of one.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { FEATURES, dataPaths, fmt, layoutPath, normal, profileColumn, rng, toCsv } from "@airflow-ml-dags/common";
import { computeMetrics } from "@airflow-ml-dags/model/metrics";

export const MODEL_DS = "2026-03-01";

export interface DayOptions {
  rows: number;
  seed: string;
  /** Moves the features f00 … f03 by this many standard deviations, each the way that raises the score. */
  shift?: number;
  /** Share of labels drawn at random, whatever the features say: the model's quality falls. */
  labelNoise?: number;
  /** Share of cells left missing. */
  missing?: number;
}

export interface Day {
  ids: string[];
  /** Row-major, one row of FEATURES per id; NaN = missing. */
  values: Float64Array;
  target: Uint8Array;
  probability: Float64Array;
}

const sigmoid = (s: number) => 1 / (1 + Math.exp(-s));

/** Rows of the world the model learnt: its probability is right about the label, but for the label noise. */
export function makeDay(o: DayOptions): Day {
  const r = rng(o.seed);
  const d = FEATURES.length;
  const values = new Float64Array(o.rows * d);
  const target = new Uint8Array(o.rows);
  const probability = new Float64Array(o.rows);
  const ids: string[] = [];
  for (let i = 0; i < o.rows; i++) {
    let score = 0;
    for (let j = 0; j < d; j++) {
      const sign = j % 2 ? -1 : 1;
      const v = normal(r) + (j < 4 ? sign * (o.shift ?? 0) : 0);
      values[i * d + j] = v;
      if (j < 6) score += sign * v * 0.8;
    }
    const p = Number(fmt(sigmoid(score)));
    probability[i] = p;
    target[i] = r() < (o.labelNoise ?? 0) ? (r() < 0.5 ? 1 : 0) : r() < p ? 1 : 0;
    for (let j = 0; j < d; j++) if (r() < (o.missing ?? 0.01)) values[i * d + j] = Number.NaN;
    ids.push(`${o.seed}-${String(i).padStart(6, "0")}`);
  }
  return { ids, values, target, probability };
}

const column = (day: Day, j: number) => Float64Array.from(day.ids, (_, i) => day.values[i * FEATURES.length + j] as number);

async function write(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** models/MODEL_DS: the training rows' profile.json and the validation rows' metrics.json with their scores. */
export async function writeModel(dataDir: string, opts: { scores?: boolean } = {}): Promise<void> {
  const train = makeDay({ rows: 3000, seed: "train" });
  const features = Object.fromEntries(FEATURES.map((f, j) => [f, profileColumn(column(train, j))]));
  await write(layoutPath(dataDir, "model_profile", MODEL_DS), json({ version: 1, rows: train.ids.length, features }));
  const val = makeDay({ rows: 1000, seed: "val" });
  const metrics = computeMetrics(val.target, val.probability, 0.5);
  const scores = opts.scores === false ? {} : { scores: profileColumn(val.probability) };
  const file = { ds: MODEL_DS, family: "mlp", val_ds: MODEL_DS, ...metrics, registry: null, ...scores };
  await write(layoutPath(dataDir, "model_metrics", MODEL_DS), json(file));
}

/** One day of the pipeline's files: raw data and labels, predictions and predict's manifest. */
export async function writeDay(dataDir: string, ds: string, o: Partial<DayOptions> = {}, version: string | null = "3"): Promise<Day> {
  const day = makeDay({ rows: 800, seed: ds, ...o });
  const paths = dataPaths(dataDir, ds);
  const d = FEATURES.length;
  const dataRows = day.ids.map((id, i) => [id, ...Array.from(day.values.subarray(i * d, (i + 1) * d), (v) => fmt(v))]);
  await write(paths.data, toCsv(["id", ...FEATURES], dataRows));
  await write(paths.target, toCsv(["id", "target"], day.ids.map((id, i) => [id, day.target[i] as number])));
  const predictions = day.ids.map((id, i) => [id, fmt(day.probability[i] as number), (day.probability[i] as number) >= 0.5 ? 1 : 0]);
  await write(paths.predictions, toCsv(["id", "probability", "label"], predictions));
  const model = version === null ? `models/${MODEL_DS}` : `models:/airflow-ml-dags-classifier/${version}`;
  const manifest = {
    ds,
    model_ref: version === null ? model : "models:/airflow-ml-dags-classifier@production",
    model,
    model_version: version,
    run_id: version === null ? null : "0123456789abcdef0123456789abcdef",
    model_ds: MODEL_DS,
    family: "mlp",
    rows: day.ids.length,
    threshold: 0.5,
  };
  await write(paths.predictionsManifest, json(manifest));
  return day;
}

/** Every file below `dir` with the sha256 of its bytes: what a failed run must leave as it was. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out[relative(dir, p)] = createHash("sha256").update(await readFile(p)).digest("hex");
    }
  };
  await walk(dir);
  return out;
}
