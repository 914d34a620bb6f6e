import {
  type Command,
  DEFAULT_DATA_DIR,
  type Frame,
  ID,
  InputError,
  type Logger,
  TARGET,
  dataPaths,
  lastDays,
  parseDs,
  readCsv,
  toCsv,
  toFrame,
  toTargets,
  writeFileAtomic,
} from "@airflow-ml-dags/common";
import { formatValue } from "./format.ts";

/** One raw day, checked: data rows, and the target file's ids and labels in that file's own order. */
interface Day {
  ds: string;
  dataPath: string;
  frame: Frame;
  targetIds: string[];
  targetLabels: number[];
}

async function readDay(dataDir: string, ds: string, expected: string[] | undefined): Promise<Day> {
  const p = dataPaths(dataDir, ds);
  const frame = toFrame(await readCsv(p.data), expected ? { withTarget: false, expected } : { withTarget: false });
  const targets = toTargets(await readCsv(p.target));
  if (targets.size !== frame.ids.length) {
    throw new InputError(p.target, `has ${targets.size} rows but ${p.data} has ${frame.ids.length}`);
  }
  // Same count and unique ids on both sides: one id without a target is enough to say the sets differ.
  const unmatched = frame.ids.find((id) => !targets.has(id));
  if (unmatched !== undefined) throw new InputError(p.target, `no row for id "${unmatched}" of ${p.data}`);
  return { ds, dataPath: p.data, frame, targetIds: [...targets.keys()], targetLabels: [...targets.values()] };
}

/**
 * The days stacked, oldest first. Ids must stay unique across days, as the join and the split rely on it.
 * Not danfo's concat: it appends into its first frame's own arrays and overflows the call stack on
 * frames of a few hundred thousand rows.
 */
function stack(days: Day[]) {
  const first = days[0] as Day;
  const columns = first.frame.columns;
  const seen = new Map<string, string>();
  for (const day of days) {
    for (const id of day.frame.ids) {
      const other = seen.get(id);
      if (other !== undefined) throw new InputError(day.dataPath, `id "${id}" is also in the data of ${other}`);
      seen.set(id, day.ds);
    }
  }
  const rows = days.reduce((n, d) => n + d.frame.ids.length, 0);
  const values = new Float64Array(rows * columns.length);
  let offset = 0;
  for (const day of days) {
    values.set(day.frame.values, offset);
    offset += day.frame.values.length;
  }
  return {
    columns,
    ids: days.flatMap((d) => d.frame.ids),
    values,
    targetIds: days.flatMap((d) => d.targetIds),
    targetLabels: days.flatMap((d) => d.targetLabels),
  };
}

interface Prepared {
  header: string[];
  rows: string[][];
  rowsIn: number;
  dropped: number;
  missing: Record<string, number>;
  positives: number;
}

/**
 * Joins data with targets on id (never by position: the two files may list ids in different orders),
 * drops rows with every feature missing, and describes what is left. Rows keep the data files' order.
 */
async function joinAndClean(stacked: ReturnType<typeof stack>, emptyFile: string): Promise<Prepared> {
  // danfo's core without its Node IO layer (URL and Excel readers we never use, whose HTTP clients load
  // the core punycode module that Node 22 reports as deprecated). Loaded here, after the CLI has routed
  // the console, so anything the library prints becomes a log line.
  const dfd = await import("danfojs-node/dist/danfojs-base/index.js");
  const { columns, ids, values } = stacked;
  const d = columns.length;
  const n = ids.length;
  // danfo keys its join with a plain object, which lists integer-like keys ("17") first; the row's position
  // in the data restores the data files' order afterwards.
  let position = "_row";
  while (columns.includes(position)) position = `_${position}`;
  const data: Record<string, unknown[]> = { [ID]: ids, [position]: Array.from({ length: n }, (_, i) => i) };
  columns.forEach((c, j) => {
    data[c] = Array.from({ length: n }, (_, i) => values[i * d + j]);
  });
  // Explicit dtypes: left to itself danfo reads ids such as "007" as integers.
  const left = new dfd.DataFrame(data, { dtypes: ["string", "int32", ...columns.map(() => "float32")] });
  const right = new dfd.DataFrame({ [ID]: stacked.targetIds, [TARGET]: stacked.targetLabels }, { dtypes: ["string", "int32"] });
  // A left join: the id sets were checked equal per day, and danfo's inner join compares every key with
  // every key (quadratic), while the left join looks keys up.
  const merged = dfd.merge({ left, right, on: [ID], how: "left" });
  // danfo's sortValues and loc look each row's label up in the index one at a time, which is quadratic (hours
  // at a million rows); iloc takes positions, so the order and the selections are worked out here as positions.
  const order = new Array<number>(n);
  (merged.column(position).values as number[]).forEach((p, i) => {
    order[p] = i;
  });
  const at = (df: InstanceType<typeof dfd.DataFrame>, names: string[]) => names.map((c) => df.columns.indexOf(c));
  const joined = merged.iloc({ rows: order, columns: at(merged, [ID, ...columns, TARGET]) });
  const allMissing = (joined.iloc({ columns: at(joined, columns) }).isNa().sum({ axis: 1 }) as InstanceType<typeof dfd.Series>)
    .values as number[];
  const keep = allMissing.flatMap((count, i) => (count < d ? [i] : []));
  const kept = keep.length;
  if (kept === 0) throw new InputError(emptyFile, `every row has all ${d} features missing`);
  const rows = joined.iloc({ rows: keep });
  const labels = rows.column(TARGET).values as number[];
  if (labels.some((v) => v !== 0 && v !== 1)) throw new Error("join left rows without a target despite equal id sets");
  const missingCounts = rows.iloc({ columns: at(rows, columns) }).isNa().sum({ axis: 0 }) as InstanceType<typeof dfd.Series>;
  const missing = Object.fromEntries(
    (missingCounts.index as string[]).map((c, j) => [c, (missingCounts.values as number[])[j] as number]),
  );
  return {
    header: [ID, ...columns, TARGET],
    rows: (rows.values as unknown[][]).map((r) => r.map(formatValue)),
    rowsIn: n,
    dropped: n - kept,
    missing,
    positives: labels.reduce((s, v) => s + v, 0),
  };
}

async function prepare(dataDir: string, ds: string, nDays: number, log: Logger) {
  const days: Day[] = [];
  for (const day of lastDays(ds, nDays)) {
    const read = await readDay(dataDir, day, days[0]?.frame.columns);
    log.info("read raw day", { ds: day, rows: read.frame.ids.length });
    days.push(read);
  }
  const stacked = stack(days);
  const out = await joinAndClean(stacked, dataPaths(dataDir, ds).data);
  log.info("joined data with targets", { rows_in: out.rowsIn, dropped_all_missing: out.dropped });
  return out;
}

export const prepareCommand: Command = {
  summary: "Joins raw data with targets for the last N days ending at ds: processed/{ds}/train_data.csv.",
  options: {
    ds: { help: "run date YYYY-MM-DD (the last day read)" },
    days: { help: "how many days of raw data to stack, ending at ds", default: "1" },
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    const nDays = args.int("days", { min: 1, max: 3660 });
    const dataDir = args.str("data-dir");
    const out = await prepare(dataDir, ds, nDays, log);
    // Missing cells stay empty: imputation is fitted later on the training rows only, so that nothing
    // learnt from the validation rows leaks into the model.
    const target = dataPaths(dataDir, ds).trainData;
    await writeFileAtomic(target, toCsv(out.header, out.rows));
    return {
      ds,
      days: lastDays(ds, nDays),
      rows_in: out.rowsIn,
      rows_out: out.rows.length,
      dropped_all_missing: out.dropped,
      missing: out.missing,
      positive_rate: Number((out.positives / out.rows.length).toFixed(4)),
      outputs: [target],
    };
  },
};
