import {
  type Command,
  DEFAULT_DATA_DIR,
  type Frame,
  InputError,
  UsageError,
  dataPaths,
  frameHeader,
  frameRows,
  parseDs,
  readCsv,
  rng,
  shuffle,
  toCsv,
  toFrame,
  writeFilesAtomic,
} from "@airflow-ml-dags/common";
import { formatValue } from "./format.ts";

/** Only the rows of one side, in the file's order. */
function subset(f: Frame, rows: number[]): Frame {
  const d = f.columns.length;
  const values = new Float64Array(rows.length * d);
  const target = new Uint8Array(rows.length);
  rows.forEach((r, k) => {
    values.set(f.values.subarray(r * d, (r + 1) * d), k * d);
    target[k] = (f.target as Uint8Array)[r] as number;
  });
  return { path: f.path, ids: rows.map((r) => f.ids[r] as string), columns: f.columns, values, target };
}

/**
 * Each class is shuffled with the seed and cut at the same fraction, so both sides keep the class
 * balance of the whole. Every class needs a row on each side, or validation could not measure it.
 */
export function stratifiedSplit(f: Frame, valFraction: number, seed: number): { train: Frame; val: Frame } {
  const r = rng(`split/${seed}`);
  const isVal = new Uint8Array(f.ids.length);
  for (const label of [0, 1]) {
    const members = f.ids.flatMap((_, i) => ((f.target as Uint8Array)[i] === label ? [i] : []));
    if (members.length < 2) {
      throw new InputError(f.path, `${members.length} row(s) of target ${label}: a stratified split needs at least 2`);
    }
    const nVal = Math.min(members.length - 1, Math.max(1, Math.round(members.length * valFraction)));
    for (const i of shuffle(members, r).slice(0, nVal)) isVal[i] = 1;
  }
  const all = f.ids.map((_, i) => i);
  return { train: subset(f, all.filter((i) => !isVal[i])), val: subset(f, all.filter((i) => isVal[i])) };
}

export const splitCommand: Command = {
  summary: "Splits processed/{ds}/train_data.csv into train.csv and val.csv, stratified by target and seeded.",
  options: {
    ds: { help: "run date YYYY-MM-DD" },
    "val-fraction": { help: "share of each class that goes to val.csv, between 0 and 1", default: "0.2" },
    seed: { help: "seed of the shuffle", default: "42" },
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    const valFraction = args.num("val-fraction");
    if (!(valFraction > 0 && valFraction < 1)) {
      throw new UsageError(`--val-fraction: expected a number between 0 and 1 (both excluded), got ${valFraction}`);
    }
    const seed = args.int("seed", { min: 0, max: 2 ** 32 - 1 });
    const p = dataPaths(args.str("data-dir"), ds);
    const f = toFrame(await readCsv(p.trainData), { withTarget: true });
    const { train, val } = stratifiedSplit(f, valFraction, seed);
    // Both files or neither, so train.csv never pairs with the val.csv of another run.
    await writeFilesAtomic([
      { path: p.train, data: toCsv(frameHeader(train), frameRows(train, formatValue)) },
      { path: p.val, data: toCsv(frameHeader(val), frameRows(val, formatValue)) },
    ]);
    const rate = (x: Frame) => Number(((x.target as Uint8Array).reduce((s, v) => s + v, 0) / x.ids.length).toFixed(4));
    log.info("split", { train_rows: train.ids.length, val_rows: val.ids.length });
    return {
      ds,
      rows: f.ids.length,
      train_rows: train.ids.length,
      val_rows: val.ids.length,
      positive_rate: rate(f),
      train_positive_rate: rate(train),
      val_positive_rate: rate(val),
      seed,
      outputs: [p.train, p.val],
    };
  },
};
