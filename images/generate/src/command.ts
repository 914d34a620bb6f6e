import { writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { DEFAULT_DATA_DIR, type Command, dataPaths, parseDs, replaceDirAtomic } from "@airflow-ml-dags/common";
import { generate } from "./generate.ts";

/** Beyond this the CSV text of one day no longer fits in a single string. */
const MAX_ROWS = 2_000_000;
/** Feature names have two digits (f00 … f99). */
const MAX_FEATURES = 100;

export const generateCommand: Command = {
  summary: "Writes one day of synthetic classification data: raw/{ds}/data.csv and raw/{ds}/target.csv.",
  options: {
    ds: { help: "run date YYYY-MM-DD (seeds the data and sets the drift)" },
    rows: { help: "rows to generate", default: "5000" },
    features: { help: "feature columns (f00, f01, …)", default: "20" },
    "missing-rate": { help: "share of feature cells left empty (0 turns it off)", default: "0.002" },
    "data-dir": { help: "data folder", default: DEFAULT_DATA_DIR },
  },
  async run(args, log) {
    const ds = parseDs(args.str("ds"));
    const rows = args.int("rows", { min: 1, max: MAX_ROWS });
    const features = args.int("features", { min: 2, max: MAX_FEATURES });
    const missingRate = args.num("missing-rate", { min: 0, max: 0.5 });
    const paths = dataPaths(args.str("data-dir"), ds);
    log.info("generating", { ds, rows, features, missing_rate: missingRate });
    const out = generate(ds, { rows, features, missingRate }, log.progress("rows generated", rows));
    // The day's folder is built aside and swapped in whole: a reader (the sensor, prepare) sees both
    // files or neither, never a data.csv without its target.csv, even when a rerun replaces them.
    await replaceDirAtomic(paths.rawDir, async (tmp) => {
      await writeFile(join(tmp, basename(paths.data)), out.data);
      await writeFile(join(tmp, basename(paths.target)), out.target);
    });
    const positiveRate = Number((out.positives / rows).toFixed(4));
    log.info("written", { outputs: [paths.data, paths.target], positive_rate: positiveRate, missing_cells: out.missingCells });
    return {
      ds,
      rows,
      features,
      outputs: [paths.data, paths.target],
      positive_rate: positiveRate,
      missing_cells: out.missingCells,
    };
  },
};
