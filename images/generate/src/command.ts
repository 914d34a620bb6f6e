import { open } from "node:fs/promises";
import { basename, join } from "node:path";
import {
  CsvSink,
  DEFAULT_DATA_DIR,
  FEATURES,
  type Args,
  type Command,
  cliName,
  cliOptions,
  dataPaths,
  numberOption,
  parseDs,
  replaceDirAtomic,
  stringOption,
} from "@airflow-ml-dags/common";
import { generate, isShifted, type Generated, type SuddenDrift } from "./generate.ts";

/** A day of data, not a data set: larger volumes come as more days. */
const MAX_ROWS = 2_000_000;

/**
 * The contract's drift options: --drift-from a date YYYY-MM-DD or empty (the DAG passes its Param, empty by
 * default: never), --drift-size within the contract's bounds.
 */
export function readDrift(args: Args): SuddenDrift {
  const from = stringOption("drift_from", args.optStr(cliName("drift_from")) ?? "");
  if (from !== "") parseDs(from, `--${cliName("drift_from")}`);
  return { from, size: numberOption("drift_size", args.str(cliName("drift_size"))) };
}

export const generateCommand: Command = {
  summary: "Writes one day of synthetic classification data: raw/{ds}/data.csv and raw/{ds}/target.csv.",
  options: {
    ds: { help: "run date YYYY-MM-DD (seeds the data and sets the drift)" },
    rows: { help: "rows to generate", default: "5000" },
    "missing-rate": { help: "share of feature cells left empty (0 turns it off)", default: "0.002" },
    ...cliOptions("generate"),
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    const rows = args.int("rows", { min: 1, max: MAX_ROWS });
    const missingRate = args.num("missing-rate", { min: 0, max: 0.5 });
    const drift = readDrift(args);
    const shifted = isShifted(ds, drift);
    const paths = dataPaths(args.str("data-dir"), ds);
    log.info("generating", {
      ds,
      rows,
      features: FEATURES.length,
      missing_rate: missingRate,
      drift_from: drift.from,
      drift_size: drift.size,
      shifted,
    });
    // The day's folder is built aside and swapped in whole: a reader (the sensor, prepare) sees both
    // files or neither, never a data.csv without its target.csv, even when a rerun replaces them. The
    // lines are written as they are made, so memory does not grow with --rows.
    let out: Generated | undefined;
    await replaceDirAtomic(paths.rawDir, async (tmp) => {
      const data = await open(join(tmp, basename(paths.data)), "w");
      try {
        const target = await open(join(tmp, basename(paths.target)), "w");
        try {
          const sinks = { data: new CsvSink((b) => data.write(b).then(() => {})), target: new CsvSink((b) => target.write(b).then(() => {})) };
          out = await generate(
            ds,
            { rows, missingRate, drift },
            sinks,
            log.progress("rows generated", rows),
          );
          await sinks.data.flush();
          await sinks.target.flush();
        } finally {
          await target.close();
        }
      } finally {
        await data.close();
      }
    });
    if (!out) throw new Error("generate wrote no files");
    const positiveRate = Number((out.positives / rows).toFixed(4));
    log.info("written", { outputs: [paths.data, paths.target], positive_rate: positiveRate, missing_cells: out.missingCells });
    return {
      ds,
      rows,
      features: FEATURES.length,
      outputs: [paths.data, paths.target],
      positive_rate: positiveRate,
      missing_cells: out.missingCells,
      // Whether this day lies in the suddenly shifted world (--drift-from on or before ds).
      shifted,
    };
  },
};
