import { ID, InputError, TARGET, readCsvBatches } from "@airflow-ml-dags/common";

/**
 * A copy of a cell that does not keep the text it was cut from alive (V8 makes a substring of 13 or more
 * characters a view into its parent): a target file's ids live until its day is joined.
 */
const detached = (cell: string) => (cell.length < 13 ? cell : (JSON.parse(JSON.stringify(cell)) as string));

/** A target file's rows in file order. */
export interface Targets {
  ids: string[];
  labels: Uint8Array;
}

/** Whether `id` sorts after `last`, shorter ids first (so "…-1000000" comes after "…-999999"). */
const after = (id: string, last: string) => id.length > last.length || (id.length === last.length && id > last);

/**
 * Reads an `id,target` file with the checks and messages of the shared readTargets, into arrays in file
 * order rather than a map: raw targets list their ids in order, and while each id sorts after the one
 * before none can repeat, so the map of every id (most of the cost of reading a million of them) is only
 * built from the first id out of order on.
 */
export async function readTargetRows(path: string): Promise<Targets> {
  const ids: string[] = [];
  const labels: number[] = [];
  let seen: Map<string, number> | undefined;
  for await (const batch of readCsvBatches(path)) {
    const { header, rows, firstRow } = batch;
    if (header.length !== 2 || header[0] !== ID || header[1] !== TARGET) {
      throw new InputError(path, `expected columns "${ID},${TARGET}", got "${header.join(",")}"`);
    }
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as string[];
      const row = firstRow + i;
      const id = detached(r[0] as string);
      if (id.trim() === "") throw new InputError(path, `row ${row}: empty id`);
      const last = ids[ids.length - 1];
      if (seen === undefined && last !== undefined && !after(id, last)) {
        // Rows are numbered from 2 without gaps, so the k-th id so far is on row k + 2.
        seen = new Map(ids.map((earlier, k) => [earlier, k + 2]));
      }
      if (seen) {
        const first = seen.get(id);
        if (first !== undefined) throw new InputError(path, `duplicate id "${id}" in rows ${first} and ${row}`);
        seen.set(id, row);
      }
      const cell = (r[1] as string).trim();
      if (cell !== "0" && cell !== "1") {
        throw new InputError(path, `row ${row}, column "${TARGET}": target must be 0 or 1, got "${r[1]}"`);
      }
      ids.push(id);
      labels.push(cell === "1" ? 1 : 0);
    }
  }
  if (ids.length === 0) throw new InputError(path, "no data rows (header only)");
  return { ids, labels: Uint8Array.from(labels) };
}

/**
 * The join of one day's data rows with its targets on id (never by position: the two files may list ids in
 * different orders). While each data row's id is the one at the same place in the target file it takes
 * that label with a comparison; from the first row that is not, a map of the target ids finds the label.
 * A target taken keeps the row number of the data row that took it, so a second row with that id is a
 * duplicate. Ids of the earlier days stacked are kept apart, since ids must stay unique across days as
 * the split and the model's data dates rely on it.
 */
export class DayJoin {
  /** Labels of the rows checked since the last `takeLabels`, in file order. */
  private labels: number[] = [];
  /** The first data id without a target. */
  unmatched: string | undefined;
  /** Data rows checked so far. */
  private rows = 0;
  /** Per target, the row number of the data row that took it; 0 while none has (rows start at 2). */
  private readonly taken: Int32Array;
  /** Target id → its place in the file, from the first data row out of the target file's order on. */
  private index: Map<string, number> | undefined;

  constructor(
    private readonly dataPath: string,
    private readonly targets: Targets,
    private readonly earlier: Map<string, string> | undefined,
  ) {
    this.taken = new Int32Array(targets.ids.length);
  }

  check(id: string, row: number): void {
    const otherDay = this.earlier?.get(id);
    if (otherDay !== undefined) throw new InputError(this.dataPath, `id "${id}" is also in the data of ${otherDay}`);
    const i = this.rows++;
    let k: number | undefined = i;
    if (this.index !== undefined || this.targets.ids[i] !== id) {
      this.index ??= new Map(this.targets.ids.map((t, j) => [t, j]));
      k = this.index.get(id);
    }
    if (k === undefined) {
      this.unmatched ??= id;
      this.labels.push(0);
      return;
    }
    const first = this.taken[k] as number;
    if (first !== 0) throw new InputError(this.dataPath, `duplicate id "${id}" in rows ${first} and ${row}`);
    this.taken[k] = row;
    this.labels.push(this.targets.labels[k] as number);
  }

  takeLabels(): Uint8Array {
    const labels = Uint8Array.from(this.labels);
    this.labels = [];
    return labels;
  }

  get size(): number {
    return this.targets.ids.length;
  }

  ids(): readonly string[] {
    return this.targets.ids;
  }
}
