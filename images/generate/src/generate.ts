import { CsvSink, dayNumber, FEATURES, ID, normal, rng, round6, TARGET, type Rng } from "@airflow-ml-dags/common";

export interface GenerateOptions {
  rows: number;
  /** The feature columns to write: the contract's raw schema in the image, fewer in some unit tests. */
  features?: readonly string[];
  /** Share of feature cells left empty, to exercise the missing-value path downstream. */
  missingRate: number;
  /** A sudden shift of the world from a date on (the contract's `drift` options); none when unset. */
  drift?: SuddenDrift;
}

/**
 * `--drift-from` / `--drift-size`: from the run date `from` on (that day included), the world the data comes from
 * changes at once and stays changed: see suddenShift. `from` empty means never.
 */
export interface SuddenDrift {
  from: string;
  /** Standard deviations the informative features' means move by; 0 leaves the world as it was. */
  size: number;
}

export interface Generated {
  positives: number;
  missingCells: number;
}

/** Where the day's two files go, data.csv's and target.csv's lines in step, each into its sink's buffer. */
export interface DaySinks {
  data: CsvSink;
  target: CsvSink;
}

/**
 * Day 0 of the drift clock. A fixed date (never "now") so that a given ds always sees the same world,
 * and a rerun or a backfill reproduces the day byte for byte.
 */
export const EPOCH = "2026-01-01";

/** Feature means wander on a yearly cycle, each feature at its own phase. */
const MEAN_AMPLITUDE = 0.75;
const MEAN_PERIOD_DAYS = 365;
/** The base rate of positives wanders on a shorter cycle, so class balance and features do not move in step. */
const BALANCE_AMPLITUDE = 0.9;
const BALANCE_PERIOD_DAYS = 200;
const BALANCE_OFFSET = -0.2;
/** A product of two features: invisible to a linear model, so the tree and the MLP have something to find. */
const INTERACTION = { a: 1, b: 3, weight: 0.8 };

/**
 * The fixed part of the concept: 2 in every 5 features carry signal, with alternating signs and
 * shrinking strength; the others are noise a model has to learn to ignore.
 */
export function weights(features: number): number[] {
  const informative = Array.from({ length: features }, (_, j) => j).filter((j) => j % 5 === 0 || j % 5 === 2);
  const w = new Array<number>(features).fill(0);
  informative.forEach((j, k) => {
    w[j] = (k % 2 === 0 ? 1 : -1) * (1.1 - (0.6 * k) / Math.max(1, informative.length));
  });
  return w;
}

/** Whether `ds` lies in the shifted world: on or after a set `from`, with a shift of some size. */
export const isShifted = (ds: string, drift: SuddenDrift | undefined): drift is SuddenDrift =>
  drift !== undefined && drift.from !== "" && drift.size > 0 && ds >= drift.from;

/**
 * The world after a sudden shift of `size` standard deviations (the features are unit normals around their
 * means). Two things change at once, as when the population a model serves changes under it:
 * - data drift: every informative feature's mean moves up by `size` (its PSI against a day before is about
 *   0.2 to 0.3 at a size of 0.5, about 0.5 at 0.75, about 2 at the default 1.5);
 * - concept drift, whatever the size: every second informative feature (those of negative weight) turns its
 *   sign, so a model trained before ranks the new rows barely better than chance (ROC AUC from about 0.88 to
 *   about 0.55; test/generate.test.ts measures it).
 * The intercept takes back what the moved means add to the logit under the new weights, so the class balance
 * stays about where the slow cycle has it: the labels alone do not give the shift away.
 */
export function suddenShift(
  w: readonly number[],
  means: readonly number[],
  intercept: number,
  size: number,
): { weights: number[]; means: number[]; intercept: number } {
  const weights = [...w];
  const moved = [...means];
  let k = 0;
  let logitMove = 0;
  for (let j = 0; j < w.length; j++) {
    if (w[j] === 0) continue;
    if (k++ % 2 === 1) weights[j] = -(w[j] as number);
    moved[j] = (means[j] as number) + size;
    logitMove += (weights[j] as number) * size;
  }
  return { weights, means: moved, intercept: intercept - logitMove };
}

/** Where the drifting world stands on a day: the feature means and the logit's intercept. */
export function driftAt(ds: string, features: number): { means: number[]; intercept: number } {
  const t = dayNumber(ds) - dayNumber(EPOCH);
  const means = Array.from(
    { length: features },
    (_, j) => MEAN_AMPLITUDE * Math.sin(2 * Math.PI * (t / MEAN_PERIOD_DAYS + j / features)),
  );
  const intercept = BALANCE_OFFSET + BALANCE_AMPLITUDE * Math.sin((2 * Math.PI * t) / BALANCE_PERIOD_DAYS);
  return { means, intercept };
}

/** Ids carry the day, so they stay unique when prepare stacks several days. */
export const makeId = (ds: string, i: number) => `${ds.replaceAll("-", "")}-${String(i + 1).padStart(6, "0")}`;

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * One day of data, line by line into `out` (header first). Every random draw comes from a generator seeded by
 * the ds and the options, drawn in a fixed order, so the same arguments give the same bytes.
 */
export async function generate(
  ds: string,
  opts: GenerateOptions,
  out: DaySinks,
  onRow: (done: number) => void = () => {},
): Promise<Generated> {
  const { rows, missingRate } = opts;
  const names = opts.features ?? FEATURES;
  const features = names.length;
  const r: Rng = rng(`generate/${ds}/${rows}/${features}/${missingRate}`);
  // Before a sudden shift (or without one) the world is the slow cycle's alone, drawn as it always was.
  const slow = { weights: weights(features), ...driftAt(ds, features) };
  const { weights: w, means, intercept } = isShifted(ds, opts.drift)
    ? suddenShift(slow.weights, slow.means, slow.intercept, opts.drift.size)
    : slow;
  const interaction = features > INTERACTION.b;
  // Lines are built directly: ids and numbers never need CSV quoting.
  await out.data.text(`${[ID, ...names].join(",")}\n`);
  await out.target.text(`${ID},${TARGET}\n`);
  const x = new Float64Array(features);
  // A row's cells, rounded as fmt() rounds them, NaN for a missing one: the sink writes each as fmt() would.
  const cells = new Float64Array(features);
  let positives = 0;
  let missingCells = 0;
  for (let i = 0; i < rows; i++) {
    let logit = intercept;
    for (let j = 0; j < features; j++) {
      x[j] = (means[j] as number) + normal(r);
      logit += (w[j] as number) * (x[j] as number);
    }
    if (interaction) logit += INTERACTION.weight * (x[INTERACTION.a] as number) * (x[INTERACTION.b] as number);
    const label = r() < sigmoid(logit) ? 1 : 0;
    positives += label;
    const id = makeId(ds, i);
    for (let j = 0; j < features; j++) {
      const missing = missingRate > 0 && r() < missingRate;
      if (missing) missingCells++;
      cells[j] = missing ? Number.NaN : round6(x[j] as number);
    }
    // Awaited only when a sink hands a full buffer over, not once per line.
    const data = out.data.numbers(id, cells);
    if (data) await data;
    const target = out.target.text(`${id},${label}\n`);
    if (target) await target;
    onRow(i + 1);
  }
  return { positives, missingCells };
}

/** One day of data as CSV text: data.csv's and target.csv's. */
export async function generateText(ds: string, opts: GenerateOptions): Promise<Generated & { data: string; target: string }> {
  const chunks = { data: [] as Buffer[], target: [] as Buffer[] };
  // A sink reuses its buffer once the write returns: each piece is copied.
  const sinks = {
    data: new CsvSink(async (b) => void chunks.data.push(Buffer.from(b))),
    target: new CsvSink(async (b) => void chunks.target.push(Buffer.from(b))),
  };
  const stats = await generate(ds, opts, sinks);
  await sinks.data.flush();
  await sinks.target.flush();
  return { ...stats, data: Buffer.concat(chunks.data).toString("utf8"), target: Buffer.concat(chunks.target).toString("utf8") };
}
