// The bad-input catalogue on the real images: every case starts from a copy of a good data folder the images
// made themselves, breaks one thing, runs one stage as the DAGs do, and expects a non-zero exit, nothing on
// stdout, exactly one error line (the last on stderr) naming the file, URI or option and the problem, and a
// data folder byte for byte as it was before the run: no output created, none replaced, no temp file left.
import { expect } from "chai";
import { chmod, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MlflowClient } from "../../../images/common/src/mlflow.ts";
import { monitorArgs } from "./monitoring.ts";
import {
  type MlflowOnNetwork,
  type Stage,
  type StageRun,
  copyDataDir,
  makeDataDir,
  removeDir,
  runStage,
  startMlflowOnNetwork,
  theErrorLine,
  treeSums,
} from "./support.ts";

const D0 = "2026-11-19";
const D = "2026-11-20";
/** A day the baseline has no output for. */
const NEW = "2026-11-21";
const ROWS = 200;
const NAME = "airflow-ml-dags-classifier";
/** Inside a container nothing listens on its own loopback: connections are refused at once. */
const CLOSED = "http://127.0.0.1:5999";

/**
 * The kinds of bad input the catalogue must cover, each by at least one case: the list of the issue, up to
 * "malformed ds", then the neighbours the cases met on the way.
 */
const KINDS = [
  "missing file",
  "empty file",
  "header only",
  "missing column",
  "extra column",
  "renamed column",
  "non-numeric value",
  "NaN",
  "infinity",
  "target not 0/1",
  "row counts differ",
  "duplicate ids",
  "corrupt model file",
  "missing model file",
  "preprocessing does not match the model",
  "MLflow unreachable",
  "no production alias",
  "unwritable output folder",
  "malformed ds",
  "bad option",
  "malformed CSV",
  "a single class",
  "model not tracked in MLflow",
  "unknown registry reference",
  "columns out of order",
  "data and target ids differ",
  "not the raw schema",
  "labels do not match predictions",
  "probability not in [0, 1]",
  "corrupt predictions manifest",
  "missing field",
] as const;
type Kind = (typeof KINDS)[number];

/** The baseline's files, as the paths the containers see. */
const raw = (ds: string, f: "data" | "target") => `raw/${ds}/${f}.csv`;
const processed = (f: string, ds = D) => `processed/${ds}/${f}.csv`;
const model = (f: string, ds = D) => `models/${ds}/${f}`;
const predictions = (f: string, ds = D) => `predictions/${ds}/${f}`;
const shown = (p: string) => `/data/${p}`;
/** A path as it appears in a message, ready for a RegExp. */
const re = (p: string) => p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

// ---- editing the copy ---------------------------------------------------------------------------------------

type Setup = (dir: string) => Promise<void>;

const lines = async (dir: string, p: string) => (await readFile(join(dir, p), "utf8")).trimEnd().split("\n");
const writeLines = (dir: string, p: string, ls: string[]) => writeFile(join(dir, p), `${ls.join("\n")}\n`);

/** Rewrites a CSV of the copy cell by cell (the images write no quoted fields, so a comma split is exact). */
const editCsv =
  (p: string, edit: (rows: string[][]) => string[][]): Setup =>
  async (dir) =>
    writeLines(dir, p, edit((await lines(dir, p)).map((l) => l.split(","))).map((r) => r.join(",")));

/** Sets one cell; `row` counts file lines as the error messages do (the header is row 1). */
const setCell = (p: string, row: number, column: string, value: string) =>
  editCsv(p, (rows) => {
    const j = (rows[0] as string[]).indexOf(column);
    if (j < 0) throw new Error(`${p} has no column ${column}`);
    (rows[row - 1] as string[])[j] = value;
    return rows;
  });

const dropColumn = (p: string, column: string) =>
  editCsv(p, (rows) => {
    const j = (rows[0] as string[]).indexOf(column);
    if (j < 0) throw new Error(`${p} has no column ${column}`);
    return rows.map((r) => r.filter((_, k) => k !== j));
  });

const renameColumn = (p: string, from: string, to: string) =>
  editCsv(p, (rows) => [(rows[0] as string[]).map((c) => (c === from ? to : c)), ...rows.slice(1)]);

/** Inserts a column before `before` (or last), with the same value on every row. */
const addColumn = (p: string, name: string, value: string, before?: string) =>
  editCsv(p, (rows) => {
    const j = before === undefined ? (rows[0] as string[]).length : (rows[0] as string[]).indexOf(before);
    return rows.map((r, i) => [...r.slice(0, j), i === 0 ? name : value, ...r.slice(j)]);
  });

const keepLines = (p: string, n: number): Setup => async (dir) => writeLines(dir, p, (await lines(dir, p)).slice(0, n));
const write = (p: string, text: string): Setup => (dir) => writeFile(join(dir, p), text);
const remove = (p: string): Setup => (dir) => rm(join(dir, p), { recursive: true });
const readOnly = (p: string): Setup => (dir) => chmod(join(dir, p), 0o555);
const fileInsteadOfFolder = (p: string): Setup => async (dir) => {
  await rm(join(dir, p), { recursive: true, force: true });
  await writeFile(join(dir, p), "a file where the task expects a folder\n");
};
const copyFile = (from: string, to: string): Setup => async (dir) => writeFile(join(dir, to), await readFile(join(dir, from)));
const editJson = (p: string, edit: (json: Record<string, unknown>) => void): Setup => async (dir) => {
  const json = JSON.parse(await readFile(join(dir, p), "utf8")) as Record<string, unknown>;
  edit(json);
  await writeFile(join(dir, p), `${JSON.stringify(json, null, 2)}\n`);
};
const truncate = (p: string, bytes: number): Setup => async (dir) =>
  writeFile(join(dir, p), (await readFile(join(dir, p))).subarray(0, bytes));
const all = (...steps: Setup[]): Setup => async (dir) => {
  for (const s of steps) await s(dir);
};

// ---- the cases ----------------------------------------------------------------------------------------------

interface Case {
  name: string;
  kind: Kind;
  stage: Stage;
  args: string[];
  setup?: Setup;
  /** 1 for bad input or an unreachable service, 2 for a bad command line. */
  code: 1 | 2;
  msg: RegExp;
  readOnlyMount?: boolean;
  env?: Record<string, string>;
  /** Runs against the real MLflow server on its network. */
  mlflow?: boolean;
}

const usage = (option: string, rest: string) => new RegExp(`^usage: ${option}: ${rest} \\(see --help\\)$`);
const prepareD = ["prepare", "--ds", D];
const prepareTwoDays = ["prepare", "--ds", D, "--days", "2"];
const splitD = ["split", "--ds", D];
const trainD = ["--ds", D, "--family", "logreg", "--epochs", "3"];
const validateD = ["validate", "--ds", D];
const predictD = ["--ds", D, "--model", `models/${D}`];
const monitorD = monitorArgs(D);
const REF = `models:/${NAME}@production`;

const CASES: Case[] = [
  // generate
  { name: "generate: impossible date", kind: "malformed ds", stage: "generate", args: ["--ds", "2026-02-30"], code: 2,
    msg: usage("--ds", 'expected a date YYYY-MM-DD, got "2026-02-30"') },
  { name: "generate: rows not a number", kind: "bad option", stage: "generate", args: ["--ds", NEW, "--rows", "many"], code: 2,
    msg: usage("--rows", 'expected an integer, got "many"') },
  { name: "generate: --drift-from not a date YYYY-MM-DD", kind: "bad option", stage: "generate",
    args: ["--ds", NEW, "--drift-from", "11/20/2026"], code: 2,
    msg: usage("--drift-from", re('expected a value matching ^([0-9]{4}-[0-9]{2}-[0-9]{2})?$, got "11/20/2026"')) },
  { name: "generate: --drift-from a day that does not exist", kind: "bad option", stage: "generate",
    args: ["--ds", NEW, "--drift-from", "2026-11-31"], code: 2, msg: usage("--drift-from", 'expected a date YYYY-MM-DD, got "2026-11-31"') },
  { name: "generate: a negative --drift-size", kind: "bad option", stage: "generate", args: ["--ds", D, "--drift-size=-1"], code: 2,
    msg: usage("--drift-size", re("expected a number in [0, 10], got -1")) },
  { name: "generate: read-only data folder, new day", kind: "unwritable output folder", stage: "generate",
    args: ["--ds", NEW, "--rows", String(ROWS)], readOnlyMount: true, code: 1, msg: /^\/data\/raw: cannot write \(EROFS\)$/ },
  { name: "generate: read-only data folder, rerun of a day that exists", kind: "unwritable output folder", stage: "generate",
    args: ["--ds", D, "--rows", String(ROWS)], readOnlyMount: true, code: 1, msg: /^\/data\/raw: cannot write \(EROFS\)$/ },
  { name: "generate: a file where the day's folder goes", kind: "unwritable output folder", stage: "generate",
    args: ["--ds", NEW, "--rows", String(ROWS)], setup: write(`raw/${NEW}`, "not a folder\n"), code: 1,
    msg: new RegExp(`^/data/raw/${NEW}: exists and is not a folder, so it cannot be replaced$`) },

  // prepare
  { name: "prepare: data.csv missing", kind: "missing file", stage: "prepare", args: prepareD, setup: remove(raw(D, "data")),
    code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: file not found$`) },
  { name: "prepare: target.csv missing", kind: "missing file", stage: "prepare", args: prepareD, setup: remove(raw(D, "target")),
    code: 1, msg: new RegExp(`^${re(shown(raw(D, "target")))}: file not found$`) },
  { name: "prepare: a day of the window missing", kind: "missing file", stage: "prepare", args: ["prepare", "--ds", D, "--days", "3"],
    code: 1, msg: new RegExp(`^/data/raw/2026-11-18/data\\.csv: file not found$`) },
  { name: "prepare: data.csv empty", kind: "empty file", stage: "prepare", args: prepareD, setup: write(raw(D, "data"), ""),
    code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: file is empty$`) },
  { name: "prepare: target.csv only blank lines", kind: "empty file", stage: "prepare", args: prepareD,
    setup: write(raw(D, "target"), "\n\n"), code: 1, msg: new RegExp(`^${re(shown(raw(D, "target")))}: file is empty$`) },
  { name: "prepare: data.csv header only", kind: "header only", stage: "prepare", args: prepareD, setup: keepLines(raw(D, "data"), 1),
    code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: no data rows \\(header only\\)$`) },
  { name: "prepare: target.csv header only", kind: "header only", stage: "prepare", args: prepareD,
    setup: keepLines(raw(D, "target"), 1), code: 1, msg: new RegExp(`^${re(shown(raw(D, "target")))}: no data rows \\(header only\\)$`) },
  { name: "prepare: a feature column missing on the second day", kind: "missing column", stage: "prepare", args: prepareTwoDays,
    setup: dropColumn(raw(D, "data"), "f07"), code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: missing columns f07$`) },
  // The raw schema of the contract holds for every day read, the first and only one included.
  { name: "prepare: a feature column missing on the only day", kind: "not the raw schema", stage: "prepare", args: prepareD,
    setup: dropColumn(raw(D, "data"), "f19"), code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: missing columns f19$`) },
  { name: "prepare: an extra column on the first of two days", kind: "not the raw schema", stage: "prepare", args: prepareTwoDays,
    setup: all(addColumn(raw(D0, "data"), "f20", "0.5"), addColumn(raw(D, "data"), "f20", "0.5")), code: 1,
    msg: new RegExp(`^${re(shown(raw(D0, "data")))}: unexpected columns f20$`) },
  { name: "prepare: a feature renamed on both days alike", kind: "not the raw schema", stage: "prepare", args: prepareTwoDays,
    setup: all(renameColumn(raw(D0, "data"), "f11", "x11"), renameColumn(raw(D, "data"), "f11", "x11")), code: 1,
    msg: new RegExp(`^${re(shown(raw(D0, "data")))}: missing columns f11; unexpected columns x11$`) },
  { name: "prepare: target.csv without its target column", kind: "missing column", stage: "prepare", args: prepareD,
    setup: dropColumn(raw(D, "target"), "target"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "target")))}: expected columns "id,target", got "id"$`) },
  { name: "prepare: an extra column on the second day", kind: "extra column", stage: "prepare", args: prepareTwoDays,
    setup: addColumn(raw(D, "data"), "f20", "0.5"), code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: unexpected columns f20$`) },
  { name: "prepare: a target column in data.csv", kind: "extra column", stage: "prepare", args: prepareD,
    setup: addColumn(raw(D, "data"), "target", "1"), code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: unexpected column "target"$`) },
  { name: "prepare: a feature renamed on the second day", kind: "renamed column", stage: "prepare", args: prepareTwoDays,
    setup: renameColumn(raw(D, "data"), "f03", "F03"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "data")))}: missing columns f03; unexpected columns F03$`) },
  { name: "prepare: id column renamed", kind: "renamed column", stage: "prepare", args: prepareD,
    setup: renameColumn(raw(D, "data"), "id", "ID"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "data")))}: first column must be "id", got "ID"$`) },
  { name: "prepare: text in a feature", kind: "non-numeric value", stage: "prepare", args: prepareD,
    setup: setCell(raw(D, "data"), 7, "f03", "abc"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "data")))}: row 7, column "f03": not a finite number \\("abc"\\)$`) },
  { name: "prepare: a row with one field too many", kind: "malformed CSV", stage: "prepare", args: prepareD,
    setup: editCsv(raw(D, "data"), (rows) => rows.map((r, i) => (i === 3 ? [...r, "1.5"] : r))), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "data")))}: row 4 has 22 fields, the header has 21$`) },
  { name: "prepare: NaN in a feature", kind: "NaN", stage: "prepare", args: prepareD, setup: setCell(raw(D, "data"), 12, "f10", "NaN"),
    code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: row 12, column "f10": not a finite number \\("NaN"\\)$`) },
  { name: "prepare: Infinity in a feature", kind: "infinity", stage: "prepare", args: prepareD,
    setup: setCell(raw(D, "data"), 3, "f00", "Infinity"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "data")))}: row 3, column "f00": not a finite number \\("Infinity"\\)$`) },
  { name: "prepare: a number beyond double range", kind: "infinity", stage: "prepare", args: prepareD,
    setup: setCell(raw(D, "data"), 5, "f19", "-1e999"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "data")))}: row 5, column "f19": not a finite number \\("-1e999"\\)$`) },
  { name: "prepare: target 2", kind: "target not 0/1", stage: "prepare", args: prepareD, setup: setCell(raw(D, "target"), 5, "target", "2"),
    code: 1, msg: new RegExp(`^${re(shown(raw(D, "target")))}: row 5, column "target": target must be 0 or 1, got "2"$`) },
  { name: "prepare: target yes", kind: "target not 0/1", stage: "prepare", args: prepareD,
    setup: setCell(raw(D, "target"), 9, "target", "yes"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "target")))}: row 9, column "target": target must be 0 or 1, got "yes"$`) },
  { name: "prepare: target.csv one row short", kind: "row counts differ", stage: "prepare", args: prepareD,
    setup: keepLines(raw(D, "target"), ROWS), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "target")))}: has ${ROWS - 1} rows but ${re(shown(raw(D, "data")))} has ${ROWS}$`) },
  { name: "prepare: target.csv with another day's ids", kind: "data and target ids differ", stage: "prepare", args: prepareD,
    setup: copyFile(raw(D0, "target"), raw(D, "target")), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "target")))}: no row for id "20261120-000001" of ${re(shown(raw(D, "data")))}$`) },
  { name: "prepare: an id twice in data.csv", kind: "duplicate ids", stage: "prepare", args: prepareD,
    setup: setCell(raw(D, "data"), 3, "id", "20261120-000001"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "data")))}: duplicate id "20261120-000001" in rows 2 and 3$`) },
  { name: "prepare: an id twice in target.csv", kind: "duplicate ids", stage: "prepare", args: prepareD,
    setup: setCell(raw(D, "target"), 11, "id", "20261120-000004"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "target")))}: duplicate id "20261120-000004" in rows 5 and 11$`) },
  { name: "prepare: the same ids on two days", kind: "duplicate ids", stage: "prepare", args: prepareTwoDays,
    setup: all(copyFile(raw(D0, "data"), raw(D, "data")), copyFile(raw(D0, "target"), raw(D, "target"))), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "data")))}: id "20261119-000001" is also in the data of ${D0}$`) },
  { name: "prepare: read-only data folder", kind: "unwritable output folder", stage: "prepare", args: prepareD, readOnlyMount: true,
    code: 1, msg: new RegExp(`^${re(shown(processed("train_data")))}: cannot write \\(EROFS\\)$`) },
  { name: "prepare: date without dashes", kind: "malformed ds", stage: "prepare", args: ["prepare", "--ds", "20261120"], code: 2,
    msg: usage("--ds", 'expected a date YYYY-MM-DD, got "20261120"') },
  { name: "prepare: zero days", kind: "bad option", stage: "prepare", args: ["prepare", "--ds", D, "--days", "0"], code: 2,
    msg: usage("--days", "expected an integer in \\[1, 3660\\], got 0") },

  // split
  { name: "split: train_data.csv missing", kind: "missing file", stage: "prepare", args: splitD, setup: remove(processed("train_data")),
    code: 1, msg: new RegExp(`^${re(shown(processed("train_data")))}: file not found$`) },
  { name: "split: train_data.csv header only", kind: "header only", stage: "prepare", args: splitD,
    setup: keepLines(processed("train_data"), 1), code: 1,
    msg: new RegExp(`^${re(shown(processed("train_data")))}: no data rows \\(header only\\)$`) },
  { name: "split: no target column", kind: "missing column", stage: "prepare", args: splitD, setup: dropColumn(processed("train_data"), "target"),
    code: 1, msg: new RegExp(`^${re(shown(processed("train_data")))}: missing column "target"$`) },
  { name: "split: empty target", kind: "target not 0/1", stage: "prepare", args: splitD, setup: setCell(processed("train_data"), 20, "target", ""),
    code: 1, msg: new RegExp(`^${re(shown(processed("train_data")))}: row 20, column "target": target must be 0 or 1, got ""$`) },
  { name: "split: a single class", kind: "a single class", stage: "prepare", args: splitD,
    setup: editCsv(processed("train_data"), (rows) => rows.map((r, i) => (i === 0 ? r : [...r.slice(0, -1), "0"]))), code: 1,
    msg: new RegExp(`^${re(shown(processed("train_data")))}: 0 row\\(s\\) of target 1: a stratified split needs at least 2$`) },
  { name: "split: output folder read-only", kind: "unwritable output folder", stage: "prepare", args: splitD, setup: readOnly(`processed/${D}`),
    code: 1, msg: new RegExp(`^${re(shown(processed("train")))}: cannot write \\(EACCES\\)$`) },
  { name: "split: val fraction 1", kind: "bad option", stage: "prepare", args: [...splitD, "--val-fraction", "1"], code: 2,
    msg: usage("--val-fraction", "expected a number between 0 and 1 \\(both excluded\\), got 1") },

  // train
  { name: "train: train.csv missing", kind: "missing file", stage: "train", args: trainD, setup: remove(processed("train")),
    code: 1, msg: new RegExp(`^${re(shown(processed("train")))}: file not found$`) },
  { name: "train: train.csv empty", kind: "empty file", stage: "train", args: trainD, setup: write(processed("train"), ""),
    code: 1, msg: new RegExp(`^${re(shown(processed("train")))}: file is empty$`) },
  { name: "train: a feature with no values at all", kind: "NaN", stage: "train", args: trainD,
    setup: editCsv(processed("train"), (rows) => rows.map((r, i) => (i === 0 ? r : r.map((c, j) => (j === 5 ? "" : c))))), code: 1,
    msg: new RegExp(`^${re(shown(processed("train")))}: column "f04" has no values: nothing to impute from$`) },
  { name: "train: a single class", kind: "a single class", stage: "train", args: ["--ds", D, "--family", "tree"],
    setup: editCsv(processed("train"), (rows) => rows.map((r, i) => (i === 0 ? r : [...r.slice(0, -1), "1"]))), code: 1,
    msg: new RegExp(`^${re(shown(processed("train")))}: "target" holds only class 1: training needs both classes$`) },
  { name: "train: MLflow unreachable", kind: "MLflow unreachable", stage: "train", args: trainD, env: { MLFLOW_TRACKING_URI: CLOSED },
    code: 1, msg: new RegExp(`^${re(CLOSED)}: MLflow unreachable at ${re(CLOSED)} \\(ECONNREFUSED\\)$`) },
  { name: "train: a file where the models folder goes", kind: "unwritable output folder", stage: "train", args: trainD,
    setup: fileInsteadOfFolder("models"), code: 1, msg: /^\/data\/models: cannot create output folder \(EEXIST\)$/ },
  { name: "train: a file where the model folder goes", kind: "unwritable output folder", stage: "train", args: trainD,
    setup: fileInsteadOfFolder(`models/${D}`), code: 1,
    msg: new RegExp(`^/data/models/${D}: exists and is not a folder, so it cannot be replaced$`) },
  { name: "train: unknown family", kind: "bad option", stage: "train", args: ["--ds", D, "--family", "forest"], code: 2,
    msg: usage("--family", 'expected one of mlp, logreg, tree, got "forest"') },
  { name: "train: date out of range", kind: "malformed ds", stage: "train", args: ["--ds", "2026-11-32"], code: 2,
    msg: usage("--ds", 'expected a date YYYY-MM-DD, got "2026-11-32"') },

  // validate
  { name: "validate: model folder missing", kind: "missing model file", stage: "validate", args: [...validateD, "--model-dir", "models/1999-01-01"],
    code: 1, msg: /^\/data\/models\/1999-01-01: model folder not found$/ },
  { name: "validate: manifest.json missing", kind: "missing model file", stage: "validate", args: validateD, setup: remove(model("manifest.json")),
    code: 1, msg: new RegExp(`^${re(shown(model("manifest.json")))}: file not found$`) },
  { name: "validate: weights.bin truncated", kind: "corrupt model file", stage: "validate", args: validateD,
    setup: truncate(model("weights.bin"), 40),
    code: 1, msg: new RegExp(`^${re(shown(model("weights.bin")))}: has 40 bytes, model\\.json describes 84$`) },
  { name: "validate: manifest.json not JSON", kind: "corrupt model file", stage: "validate", args: validateD,
    setup: write(model("manifest.json"), '{"ds": "2026-11-20", '), code: 1,
    msg: new RegExp(`^${re(shown(model("manifest.json")))}: not valid JSON \\(.+\\)$`) },
  { name: "validate: preprocessing for fewer columns than the network takes", kind: "preprocessing does not match the model", stage: "validate",
    args: validateD,
    setup: all(
      editJson(model("preprocess.json"), (p) => {
        for (const k of ["columns", "median", "mean", "std"]) (p[k] as unknown[]).pop();
      }),
      editJson(model("manifest.json"), (m) => void (m.columns as unknown[]).pop()),
    ),
    code: 1, msg: new RegExp(`^${re(shown(model("preprocess.json")))}: has 19 columns, but the model takes 20 inputs$`) },
  { name: "validate: val.csv missing", kind: "missing file", stage: "validate", args: validateD, setup: remove(processed("val")),
    code: 1, msg: new RegExp(`^${re(shown(processed("val")))}: file not found$`) },
  { name: "validate: val.csv with a renamed feature", kind: "renamed column", stage: "validate", args: validateD,
    setup: renameColumn(processed("val"), "f11", "f11_new"), code: 1,
    msg: new RegExp(`^${re(shown(processed("val")))}: missing columns f11; unexpected columns f11_new$`) },
  { name: "validate: target -1", kind: "target not 0/1", stage: "validate", args: validateD, setup: setCell(processed("val"), 4, "target", "-1"),
    code: 1, msg: new RegExp(`^${re(shown(processed("val")))}: row 4, column "target": target must be 0 or 1, got "-1"$`) },
  { name: "validate: MLflow unreachable", kind: "MLflow unreachable", stage: "validate", args: validateD,
    setup: editJson(model("manifest.json"), (m) => void (m.runId = "0123456789abcdef0123456789abcdef")),
    env: { MLFLOW_TRACKING_URI: CLOSED }, code: 1,
    msg: new RegExp(`^runs:/0123456789abcdef0123456789abcdef: MLflow unreachable at ${re(CLOSED)} \\(ECONNREFUSED\\)$`) },
  { name: "validate: MLflow on, model trained with MLflow off", kind: "model not tracked in MLflow", stage: "validate", args: validateD,
    env: { MLFLOW_TRACKING_URI: CLOSED }, code: 1,
    msg: new RegExp(`^${re(shown(model("manifest.json")))}: has no MLflow "runId": the model was trained without MLFLOW_TRACKING_URI`) },
  { name: "validate: model folder read-only", kind: "unwritable output folder", stage: "validate", args: validateD, setup: readOnly(`models/${D}`),
    code: 1, msg: new RegExp(`^${re(shown(model("metrics.json")))}: cannot write \\(EACCES\\)$`) },
  { name: "validate: month 13", kind: "malformed ds", stage: "validate", args: ["validate", "--ds", "2026-13-01"], code: 2,
    msg: usage("--ds", 'expected a date YYYY-MM-DD, got "2026-13-01"') },

  // predict
  { name: "predict: model folder missing", kind: "missing model file", stage: "predict", args: ["--ds", D, "--model", "models/1999-01-01"],
    code: 1, msg: /^\/data\/models\/1999-01-01: model folder not found$/ },
  { name: "predict: weights.bin missing", kind: "missing model file", stage: "predict", args: predictD, setup: remove(model("weights.bin")),
    code: 1, msg: new RegExp(`^${re(shown(model("weights.bin")))}: file not found \\(manifest\\.json names family "logreg"\\)$`) },
  { name: "predict: model.json cut short", kind: "corrupt model file", stage: "predict", args: predictD, setup: truncate(model("model.json"), 100),
    code: 1, msg: new RegExp(`^${re(shown(model("model.json")))}: not valid JSON \\(.+\\)$`) },
  { name: "predict: tree.json with a broken split", kind: "corrupt model file", stage: "predict", args: ["--ds", D, "--model", `models/${D0}`],
    setup: editJson(model("tree.json", D0), (t) => void ((t.root as Record<string, unknown>).splitColumn = -1)),
    code: 1, msg: new RegExp(`^${re(shown(model("tree.json", D0)))}: root: bad "splitColumn"$`) },
  { name: "predict: preprocessing of other columns than the model's", kind: "preprocessing does not match the model", stage: "predict",
    args: predictD, setup: editJson(model("preprocess.json"), (p) => void ((p.columns as string[])[19] = "g19")), code: 1,
    msg: new RegExp(`^${re(shown(model("preprocess.json")))}: columns f00,.*,f18,g19 differ from manifest\\.json's f00,.*,f18,f19$`) },
  { name: "predict: data.csv without a feature the model needs", kind: "missing column", stage: "predict", args: predictD,
    setup: dropColumn(raw(D, "data"), "f19"), code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: missing columns f19$`) },
  { name: "predict: data.csv with a column the model does not know", kind: "extra column", stage: "predict", args: predictD,
    setup: addColumn(raw(D, "data"), "f99", "0", "f00"), code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: unexpected columns f99$`) },
  { name: "predict: data.csv with columns in another order", kind: "columns out of order", stage: "predict", args: predictD,
    setup: editCsv(raw(D, "data"), (rows) => rows.map((r) => [r[0] as string, r[2] as string, r[1] as string, ...r.slice(3)])), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "data")))}: columns out of order: expected f00,f01,.*,f19$`) },
  { name: "predict: -Infinity in data.csv", kind: "infinity", stage: "predict", args: predictD,
    setup: setCell(raw(D, "data"), 40, "f08", "-Infinity"),
    code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: row 40, column "f08": not a finite number \\("-Infinity"\\)$`) },
  { name: "predict: a hex number in data.csv", kind: "non-numeric value", stage: "predict", args: predictD,
    setup: setCell(raw(D, "data"), 2, "f01", "0x1F"),
    code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: row 2, column "f01": not a finite number \\("0x1F"\\)$`) },
  { name: "predict: an id twice in data.csv", kind: "duplicate ids", stage: "predict", args: predictD,
    setup: setCell(raw(D, "data"), ROWS + 1, "id", "20261120-000100"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "data")))}: duplicate id "20261120-000100" in rows 101 and ${ROWS + 1}$`) },
  { name: "predict: data.csv empty", kind: "empty file", stage: "predict", args: predictD, setup: write(raw(D, "data"), ""),
    code: 1, msg: new RegExp(`^${re(shown(raw(D, "data")))}: file is empty$`) },
  { name: "predict: registry reference, MLflow unreachable", kind: "MLflow unreachable", stage: "predict", args: ["--ds", D, "--model", REF],
    env: { MLFLOW_TRACKING_URI: CLOSED }, code: 1, msg: new RegExp(`^${re(REF)}: MLflow unreachable at ${re(CLOSED)} \\(ECONNREFUSED\\)$`) },
  { name: "predict: registry reference, MLFLOW_TRACKING_URI unset", kind: "MLflow unreachable", stage: "predict", args: ["--ds", D, "--model", REF],
    code: 1, msg: new RegExp(`^${re(REF)}: MLFLOW_TRACKING_URI is not set, so the model registry cannot be reached$`) },
  { name: "predict: registry model without a production alias", kind: "no production alias", stage: "predict", mlflow: true,
    args: ["--ds", D, "--model", REF], code: 1, msg: new RegExp(`^${re(REF)}: no version has alias "production"$`) },
  { name: "predict: unknown registered model", kind: "unknown registry reference", stage: "predict", mlflow: true,
    args: ["--ds", D, "--model", "models:/no-such-model@production"], code: 1,
    msg: /^models:\/no-such-model@production: registered model "no-such-model" does not exist$/ },
  { name: "predict: read-only data folder", kind: "unwritable output folder", stage: "predict", args: predictD, readOnlyMount: true,
    code: 1, msg: new RegExp(`^/data/predictions/${D}/predictions\\.csv: cannot write \\(EROFS\\)$`) },
  { name: "predict: a file where the day's predictions folder goes", kind: "unwritable output folder", stage: "predict",
    args: ["--ds", D0, "--model", `models/${D}`], setup: write(`predictions/${D0}`, "not a folder\n"), code: 1,
    msg: new RegExp(`^/data/predictions/${D0}: cannot create output folder \\(EEXIST\\)$`) },
  { name: "predict: 31 November", kind: "malformed ds", stage: "predict", args: ["--ds", "2026-11-31", "--model", `models/${D}`], code: 2,
    msg: usage("--ds", 'expected a date YYYY-MM-DD, got "2026-11-31"') },
  { name: "predict: threshold above 1", kind: "bad option", stage: "predict", args: [...predictD, "--threshold", "1.5"], code: 2,
    msg: usage("--threshold", "expected a number in \\[0, 1\\], got 1.5") },

  // monitor: the baseline monitored day D once, so each case is a failed rerun that must leave that report,
  // its page and the index as they were.
  { name: "monitor: labels missing", kind: "missing file", stage: "monitor", args: monitorD, setup: remove(raw(D, "target")),
    code: 1, msg: new RegExp(`^${re(shown(raw(D, "target")))}: file not found$`) },
  { name: "monitor: the labels of another day", kind: "labels do not match predictions", stage: "monitor", args: monitorD,
    setup: copyFile(raw(D0, "target"), raw(D, "target")), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "target")))}: no label for id "20261120-000001" of ${re(shown(predictions("predictions.csv")))} \\(row 2\\)$`) },
  { name: "monitor: a prediction without a label", kind: "labels do not match predictions", stage: "monitor", args: monitorD,
    setup: setCell(raw(D, "target"), 9, "id", "20261120-999999"), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "target")))}: no label for id "20261120-000008" of ${re(shown(predictions("predictions.csv")))} \\(row 9\\)$`) },
  { name: "monitor: a label without a prediction", kind: "labels do not match predictions", stage: "monitor", args: monitorD,
    setup: keepLines(predictions("predictions.csv"), ROWS), code: 1,
    msg: new RegExp(`^${re(shown(raw(D, "target")))}: 1 id has no prediction in ${re(shown(predictions("predictions.csv")))}, e\\.g\\. "20261120-000200"$`) },
  { name: "monitor: an id twice in predictions.csv", kind: "duplicate ids", stage: "monitor", args: monitorD,
    setup: setCell(predictions("predictions.csv"), 3, "id", "20261120-000001"), code: 1,
    msg: new RegExp(`^${re(shown(predictions("predictions.csv")))}: row 3: duplicate id "20261120-000001"$`) },
  { name: "monitor: a probability above 1", kind: "probability not in [0, 1]", stage: "monitor", args: monitorD,
    setup: setCell(predictions("predictions.csv"), 2, "probability", "1.5"), code: 1,
    msg: new RegExp(`^${re(shown(predictions("predictions.csv")))}: row 2, column "probability": expected a number in \\[0, 1\\], got "1\\.5"$`) },
  { name: "monitor: predictions.csv header only", kind: "header only", stage: "monitor", args: monitorD,
    setup: keepLines(predictions("predictions.csv"), 1), code: 1,
    msg: new RegExp(`^${re(shown(predictions("predictions.csv")))}: no data rows \\(header only\\)$`) },
  { name: "monitor: predictions manifest missing", kind: "missing file", stage: "monitor", args: monitorD,
    setup: remove(predictions("manifest.json")), code: 1, msg: new RegExp(`^${re(shown(predictions("manifest.json")))}: file not found$`) },
  { name: "monitor: predictions manifest cut short", kind: "corrupt predictions manifest", stage: "monitor", args: monitorD,
    setup: truncate(predictions("manifest.json"), 30), code: 1,
    msg: new RegExp(`^${re(shown(predictions("manifest.json")))}: not valid JSON \\(.+\\)$`) },
  { name: "monitor: predictions manifest naming no model day", kind: "missing field", stage: "monitor", args: monitorD,
    setup: editJson(predictions("manifest.json"), (m) => void delete m.model_ds), code: 1,
    msg: new RegExp(`^${re(shown(predictions("manifest.json")))}: "model_ds" must be a date YYYY-MM-DD$`) },
  { name: "monitor: model folder without profile.json", kind: "missing model file", stage: "monitor", args: monitorD,
    setup: remove(model("profile.json")), code: 1, msg: new RegExp(`^${re(shown(model("profile.json")))}: file not found$`) },
  // A model validated before the monitor came has metrics.json without the validation scores' profile.
  { name: "monitor: metrics.json without \"scores\"", kind: "missing field", stage: "monitor", args: monitorD,
    setup: editJson(model("metrics.json"), (m) => void delete m.scores), code: 1,
    msg: new RegExp(`^${re(shown(model("metrics.json")))}: no "scores" profile of the validation probabilities \\(.*rerun validate\\)$`) },
  { name: "monitor: PSI threshold 0", kind: "bad option", stage: "monitor", args: monitorArgs(D, { psiThreshold: 0 }), code: 2,
    msg: usage("--psi-threshold", "expected a number in \\(0, 10\\], got 0") },
  { name: "monitor: history days not an integer", kind: "bad option", stage: "monitor", args: monitorArgs(D, { historyDays: 7.5 }), code: 2,
    msg: usage("--history-days", "expected an integer, got 7.5") },
  { name: "monitor: ROC AUC drop above 1", kind: "bad option", stage: "monitor", args: monitorArgs(D, { aucDrop: 1.5 }), code: 2,
    msg: usage("--auc-drop", "expected a number in \\[0, 1\\], got 1.5") },
  { name: "monitor: 29 February 2026", kind: "malformed ds", stage: "monitor", args: monitorArgs("2026-02-29"), code: 2,
    msg: usage("--ds", 'expected a date YYYY-MM-DD, got "2026-02-29"') },
  { name: "monitor: MLflow unreachable", kind: "MLflow unreachable", stage: "monitor", args: monitorD, env: { MLFLOW_TRACKING_URI: CLOSED },
    code: 1, msg: new RegExp(`^${re(CLOSED)}: MLflow unreachable at ${re(CLOSED)} \\(ECONNREFUSED\\)$`) },
  { name: "monitor: read-only data folder", kind: "unwritable output folder", stage: "monitor", args: monitorD, readOnlyMount: true,
    code: 1, msg: new RegExp(`^/data/monitoring/${D}/report\\.json: cannot write \\(EROFS\\)$`) },
];

interface Outcome {
  run: StageRun;
  before: Record<string, string>;
  after: Record<string, string>;
}

/** Runs at most `n` of the functions given at once, the others waiting their turn. */
function limiter(n: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    while (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/** Cases run this many at a time, each on its own copy: the machine has few cores and most of a run is container start-up. */
const PARALLEL = 3;

describe("bad-input catalogue on the real images: exit != 0, one error line, the data folder untouched", function () {
  let baseline = "";
  let mlflow: MlflowOnNetwork | undefined;
  const outcomes = new Map<Case, Promise<Outcome>>();
  const summary: { name: string; code: number | undefined; msg: string }[] = [];

  /** The good data folder every case copies: made by the images themselves, small, MLflow off. */
  async function makeBaseline(): Promise<string> {
    // Day D has data, train_data, the split, a logreg model with its metrics, predictions and their monitoring
    // report; day D0 a tree model.
    const dir = await makeDataDir("catalogue-baseline");
    const run = async (stage: Stage, ...args: string[]) => (await runStage(stage, args, { dataDir: dir })).result();
    await Promise.all([D0, D].map((ds) => run("generate", "--ds", ds, "--rows", String(ROWS))));
    await Promise.all(
      [D0, D].map(async (ds) => {
        await run("prepare", "prepare", "--ds", ds);
        await run("prepare", "split", "--ds", ds);
      }),
    );
    await Promise.all([run("train", ...trainD), run("train", "--ds", D0, "--family", "tree")]);
    await run("validate", ...validateD);
    await run("predict", ...predictD);
    await run("monitor", ...monitorD);
    return dir;
  }

  /**
   * Registers a version with no alias, as after the alias was deleted or before any gate ran: the baseline
   * model, logged to a run and registered through the REST API.
   */
  async function registerWithoutAlias(server: MlflowOnNetwork, modelDir: string): Promise<void> {
    const client = new MlflowClient(server.server.uri);
    const experiment = await client.getOrCreateExperiment("catalogue");
    const created = await client.createRun(experiment.experimentId, { name: `train-${D}` });
    await client.uploadArtifacts(created.info.runId, modelDir, "model");
    await client.finishRun(created.info.runId, "FINISHED");
    await client.createRegisteredModelIfMissing(NAME);
    await client.createModelVersion(NAME, created.info.runId, "model");
    expect((await client.getRegisteredModel(NAME))?.aliases).to.deep.equal({});
  }

  async function runCase(c: Case): Promise<Outcome> {
    const dir = await copyDataDir(baseline, "catalogue");
    try {
      await c.setup?.(dir);
      // After the setup: what the case wrote is input, and must be left as it is too.
      const before = await treeSums(dir);
      const onRegistry = c.mlflow && mlflow ? { network: mlflow.network, env: { MLFLOW_TRACKING_URI: mlflow.networkUri } } : undefined;
      const run = await runStage(c.stage, c.args, {
        dataDir: dir,
        readOnly: c.readOnlyMount ?? false,
        env: { ...onRegistry?.env, ...c.env },
        ...(onRegistry ? { network: onRegistry.network } : {}),
      });
      return { run, before, after: await treeSums(dir) };
    } finally {
      await removeDir(dir);
    }
  }

  before(async function () {
    this.timeout(300_000);
    // The server starts while the images make the baseline; it needs the baseline's model only afterwards.
    const [made, started] = await Promise.allSettled([makeBaseline(), startMlflowOnNetwork("catalogue")]);
    if (started.status === "fulfilled") mlflow = started.value;
    if (made.status === "fulfilled") baseline = made.value;
    if (made.status === "rejected") throw made.reason;
    if (started.status === "rejected") throw started.reason;
    await registerWithoutAlias(started.value, join(baseline, "models", D));
    // Every run starts now, a few at a time; each test awaits its own, so results are still reported case by case.
    const slot = limiter(PARALLEL);
    for (const c of CASES) {
      const outcome = slot(() => runCase(c));
      // Handled by the test that awaits it; this only keeps an early failure from counting as unhandled.
      outcome.catch(() => undefined);
      outcomes.set(c, outcome);
    }
  });

  after(async function () {
    this.timeout(120_000);
    if (summary.length) {
      const width = Math.max(...summary.map((s) => s.name.length));
      console.log(`\n  The error line of each case (${summary.length}):`);
      for (const s of summary) console.log(`    ${s.name.padEnd(width)}  exit ${s.code}  ${s.msg}`);
    }
    if (mlflow) await mlflow.stop();
    await removeDir(baseline);
  });

  it(`covers every kind of bad input (${KINDS.length} kinds, ${CASES.length} cases)`, () => {
    expect(CASES.length).to.be.at.least(105);
    expect([...new Set(CASES.map((c) => c.kind))]).to.have.members([...KINDS]);
    expect(new Set(CASES.map((c) => c.name)).size, "case names are unique").to.equal(CASES.length);
    const stages = new Set(CASES.map((c) => (c.stage === "prepare" ? (c.args[0] as string) : c.stage)));
    expect([...stages]).to.have.members(["generate", "prepare", "split", "train", "validate", "predict", "monitor"]);
  });

  for (const c of CASES) {
    it(`${c.name} (${c.kind})`, async () => {
      const { run, before, after } = await (outcomes.get(c) as Promise<Outcome>);
      const msg = theErrorLine(run);
      summary.push({ name: c.name, code: run.code, msg });
      expect(run.code, msg).to.equal(c.code);
      expect(run.stdout, "stdout").to.equal("");
      expect(msg).to.match(c.msg);
      expect(after, "the data folder after the run").to.deep.equal(before);
    });
  }
});
