import {
  type AtomicWriter,
  type Command,
  DEFAULT_DATA_DIR,
  type Frame,
  ID,
  InputError,
  type Logger,
  TARGET,
  CsvSink,
  FEATURES,
  cliOptions,
  dataPaths,
  lastDays,
  numberOption,
  parseDs,
  rawDataOptions,
  readFrames,
  readHeader,
  readTargetRows,
  writeFrameRows,
  writeStreamsAtomic,
} from "@airflow-ml-dags/common";
import { DayJoin } from "./join.ts";

export type Danfo = typeof import("danfojs-node/dist/danfojs-base/index.js");

/** What prepare learnt about the rows it read and wrote, across every day. */
export interface Summary {
  columns: string[];
  rowsIn: number;
  rowsOut: number;
  dropped: number;
  /** Missing cells per column among the rows kept. */
  missing: number[];
  positives: number;
}

/**
 * Cleans one batch of joined rows with danfo: rows whose every feature is missing are dropped, and the
 * missing cells of the rows kept are counted per column. Returns the kept rows as a frame.
 *
 * Only the rows with a missing cell go through danfo: a row without one is never dropped and misses
 * nothing, and building a frame of the whole batch cost more than the rest of prepare (a boxed array per
 * row, transposed and copied by danfo's constructor, for a few percent of rows that matter).
 */
export function clean(dfd: Danfo, batch: Frame, labels: Uint8Array, summary: Summary): Frame {
  const d = batch.columns.length;
  const n = batch.ids.length;
  const { values } = batch;
  const gaps: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = i * d, end = k + d; k < end; k++) {
      // NaN is the only value not equal to itself.
      if (values[k] !== values[k]) {
        gaps.push(i);
        break;
      }
    }
  }
  const dropped = new Set<number>();
  if (gaps.length > 0) {
    const rows = gaps.map((i) => Array.from(values.subarray(i * d, (i + 1) * d)));
    const na = new dfd.DataFrame(rows, { columns: batch.columns, dtypes: batch.columns.map(() => "float32") }).isNa();
    const perRow = (na.sum({ axis: 1 }) as InstanceType<Danfo["Series"]>).values as number[];
    const perColumn = (na.sum({ axis: 0 }) as InstanceType<Danfo["Series"]>).values as number[];
    perRow.forEach((count, k) => {
      if (count === d) dropped.add(gaps[k] as number);
    });
    // A dropped row is missing in every column: what is left is what the kept rows miss.
    perColumn.forEach((count, j) => {
      summary.missing[j] = (summary.missing[j] as number) + count - dropped.size;
    });
  }
  summary.dropped += dropped.size;
  if (dropped.size === 0) {
    for (let i = 0; i < n; i++) summary.positives += labels[i] as number;
    return { path: batch.path, ids: batch.ids, columns: batch.columns, values, target: labels };
  }
  const keep = Array.from({ length: n }, (_, i) => i).filter((i) => !dropped.has(i));
  const kept = new Float64Array(keep.length * d);
  const target = new Uint8Array(keep.length);
  keep.forEach((r, k) => {
    kept.set(values.subarray(r * d, (r + 1) * d), k * d);
    target[k] = labels[r] as number;
    summary.positives += labels[r] as number;
  });
  return { path: batch.path, ids: keep.map((r) => batch.ids[r] as string), columns: batch.columns, values: kept, target };
}

/**
 * Joins one day's data with its targets on id (never by position: the two files may list ids in different
 * orders), batch by batch in the data file's order, and appends the cleaned rows to `out`.
 */
async function prepareDay(
  dfd: Danfo,
  features: readonly string[],
  dataDir: string,
  ds: string,
  earlier: Map<string, string> | undefined,
  summary: Summary,
  out: CsvSink,
): Promise<number> {
  const p = dataPaths(dataDir, ds);
  // The data file's header first, so that a missing or empty day names its data file.
  await readHeader(p.data);
  const join = new DayJoin(p.data, await readTargetRows(p.target), earlier);
  let rows = 0;
  // Every day's header is checked against the raw schema, not only against the first day's.
  const frames = readFrames(p.data, { ...rawDataOptions(features), uniqueId: (id, row) => join.check(id, row) });
  for await (const batch of frames) {
    if (summary.columns.length === 0) {
      summary.columns = batch.columns;
      summary.missing = batch.columns.map(() => 0);
      await out.rows([[ID, ...batch.columns, TARGET]]);
    }
    rows += batch.ids.length;
    const labels = join.takeLabels();
    // After the first id without a target the day fails; its rows are still read, to report a count
    // mismatch (the likelier cause) before the id.
    if (join.unmatched !== undefined) continue;
    const kept = clean(dfd, batch, labels, summary);
    summary.rowsOut += kept.ids.length;
    await writeFrameRows(out, kept);
  }
  summary.rowsIn += rows;
  if (join.size !== rows) throw new InputError(p.target, `has ${join.size} rows but ${p.data} has ${rows}`);
  // Same count and unique ids on both sides: one id without a target is enough to say the sets differ.
  if (join.unmatched !== undefined) throw new InputError(p.target, `no row for id "${join.unmatched}" of ${p.data}`);
  if (earlier) for (const id of join.ids()) earlier.set(id, ds);
  return rows;
}

/**
 * The prepare command for raw data of the given feature columns: the image runs it with the contract's
 * (`prepareCommand`); the unit tests of the join and the cleaning use small tables of their own.
 */
export const prepareCommandFor = (features: readonly string[]): Command => ({
  summary: "Joins raw data with targets for the last N days ending at ds: processed/{ds}/train_data.csv.",
  options: {
    ds: { help: "run date YYYY-MM-DD (the last day read)" },
    ...cliOptions("prepare"),
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log: Logger) {
    const ds = parseDs(args.str("ds"));
    const nDays = numberOption("days", args.str("days"));
    const dataDir = args.str("data-dir");
    // danfo's core without its Node IO layer (URL and Excel readers we never use, whose HTTP clients load
    // the core punycode module that Node 22 reports as deprecated). Loaded here, after the CLI has routed
    // the console, so anything the library prints becomes a log line.
    const dfd = await import("danfojs-node/dist/danfojs-base/index.js");
    const summary: Summary = { columns: [], rowsIn: 0, rowsOut: 0, dropped: 0, missing: [], positives: 0 };
    const days = lastDays(ds, nDays);
    // Only needed, and only filled, when several days are stacked.
    const earlier = days.length > 1 ? new Map<string, string>() : undefined;
    const target = dataPaths(dataDir, ds).trainData;
    // Missing cells stay empty: imputation is fitted later on the training rows only, so that nothing
    // learnt from the validation rows leaks into the model. Rows are written as they are joined, and the
    // file appears only once every day has been read and checked.
    await writeStreamsAtomic([target], async ([file]) => {
      const out = new CsvSink((data) => (file as AtomicWriter).write(data));
      for (const day of days) {
        const rows = await prepareDay(dfd, features, dataDir, day, earlier, summary, out);
        log.info("read raw day", { ds: day, rows });
      }
      await out.flush();
      if (summary.rowsOut === 0) {
        throw new InputError(dataPaths(dataDir, ds).data, `every row has all ${summary.columns.length} features missing`);
      }
    });
    log.info("joined data with targets", { rows_in: summary.rowsIn, dropped_all_missing: summary.dropped });
    return {
      ds,
      days,
      rows_in: summary.rowsIn,
      rows_out: summary.rowsOut,
      dropped_all_missing: summary.dropped,
      missing: Object.fromEntries(summary.columns.map((c, j) => [c, summary.missing[j] as number])),
      positive_rate: Number((summary.positives / summary.rowsOut).toFixed(4)),
      outputs: [target],
    };
  },
});

export const prepareCommand = prepareCommandFor(FEATURES);
