import { InputError, type Targets } from "@airflow-ml-dags/common";

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
