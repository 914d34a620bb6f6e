import {
  type Command,
  DEFAULT_DATA_DIR,
  type Frame,
  InputError,
  UsageError,
  countLines,
  CsvSink,
  dataPaths,
  frameHeader,
  parseDs,
  readFrames,
  rng,
  shuffle,
  writeFrameRows,
  writeStreamsAtomic,
} from "@airflow-ml-dags/common";

/**
 * Which rows go to validation: each class is shuffled with the seed and cut at the same fraction, so both
 * sides keep the class balance of the whole. Every class needs a row on each side, or validation could not
 * measure it. Returns 1 for a validation row, 0 for a training row.
 */
export function stratifiedSplit(path: string, labels: Uint8Array, valFraction: number, seed: number): Uint8Array {
  const r = rng(`split/${seed}`);
  const isVal = new Uint8Array(labels.length);
  for (const label of [0, 1]) {
    const members: number[] = [];
    labels.forEach((y, i) => {
      if (y === label) members.push(i);
    });
    if (members.length < 2) {
      throw new InputError(path, `${members.length} row(s) of target ${label}: a stratified split needs at least 2`);
    }
    const nVal = Math.min(members.length - 1, Math.max(1, Math.round(members.length * valFraction)));
    for (const i of shuffle(members, r).slice(0, nVal)) isVal[i] = 1;
  }
  return isVal;
}

/** Only the rows of one side of a batch, in the file's order. */
function side(f: Frame, isVal: Uint8Array, offset: number, want: number): Frame {
  const d = f.columns.length;
  const rows: number[] = [];
  for (let i = 0; i < f.ids.length; i++) if (isVal[offset + i] === want) rows.push(i);
  const values = new Float64Array(rows.length * d);
  const target = new Uint8Array(rows.length);
  rows.forEach((r, k) => {
    values.set(f.values.subarray(r * d, (r + 1) * d), k * d);
    target[k] = (f.target as Uint8Array)[r] as number;
  });
  return { path: f.path, ids: rows.map((r) => f.ids[r] as string), columns: f.columns, values, target };
}

/** The labels of a file, in order, read batch by batch with every check of a frame. */
async function readLabels(path: string): Promise<Uint8Array> {
  let labels = new Uint8Array(0);
  let n = 0;
  for await (const f of readFrames(path, { withTarget: true })) {
    // Sized from the line count (never fewer than the rows) so the labels are never copied on the way.
    if (n === 0) labels = new Uint8Array(await countLines(path));
    if (n + f.ids.length > labels.length) throw new Error(`${path}: more rows than lines while reading`);
    labels.set(f.target as Uint8Array, n);
    n += f.ids.length;
  }
  return labels.subarray(0, n);
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
    // Two passes, so that only the labels are ever held: the first checks the file and decides each row's
    // side, the second writes every row to its side.
    const labels = await readLabels(p.trainData);
    const isVal = stratifiedSplit(p.trainData, labels, valFraction, seed);
    const sides = [
      { path: p.train, rows: 0, positives: 0 },
      { path: p.val, rows: 0, positives: 0 },
    ];
    // Both files or neither, so train.csv never pairs with the val.csv of another run.
    await writeStreamsAtomic(
      sides.map((s) => s.path),
      async (files) => {
        const outs = files.map((file) => new CsvSink((data) => file.write(data)));
        let offset = 0;
        for await (const f of readFrames(p.trainData, { withTarget: true })) {
          const y = f.target as Uint8Array;
          if (offset + f.ids.length > labels.length || y.some((v, i) => v !== labels[offset + i])) {
            throw new InputError(p.trainData, "changed while it was being read");
          }
          for (const [want, s] of sides.entries()) {
            const out = outs[want] as CsvSink;
            if (offset === 0) await out.rows([frameHeader(f)]);
            const rows = side(f, isVal, offset, want);
            s.rows += rows.ids.length;
            s.positives += (rows.target as Uint8Array).reduce((sum, v) => sum + v, 0);
            await writeFrameRows(out, rows);
          }
          offset += f.ids.length;
        }
        if (offset !== labels.length) throw new InputError(p.trainData, "changed while it was being read");
        for (const out of outs) await out.flush();
      },
    );
    const [train, val] = sides as [(typeof sides)[0], (typeof sides)[0]];
    const rate = (positives: number, rows: number) => Number((positives / rows).toFixed(4));
    log.info("split", { train_rows: train.rows, val_rows: val.rows });
    return {
      ds,
      rows: labels.length,
      train_rows: train.rows,
      val_rows: val.rows,
      positive_rate: rate(train.positives + val.positives, labels.length),
      train_positive_rate: rate(train.positives, train.rows),
      val_positive_rate: rate(val.positives, val.rows),
      seed,
      outputs: [p.train, p.val],
    };
  },
};
