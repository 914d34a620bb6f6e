import { InputError, countLines, readFrames } from "@airflow-ml-dags/common";
import type { LoadedModel } from "@airflow-ml-dags/model";

/** The targets of the validation rows and a model's probabilities of class 1, row for row. */
export interface Scored {
  y: Uint8Array;
  p: Float64Array;
}

/**
 * Scores a validation file with a model batch by batch: only the targets and the probabilities are kept, never
 * the rows, so memory stays a small multiple of the row count. With `sameAs`, the file must still hold
 * exactly those targets: the gate compares two models on the same rows, read twice.
 */
export async function scoreFile(model: LoadedModel, path: string, sameAs?: Uint8Array): Promise<Scored> {
  let y = new Uint8Array(0);
  let p = new Float64Array(0);
  let n = 0;
  // withTarget refuses a file without a target column, and the frame any target other than 0 or 1.
  for await (const f of readFrames(path, { expected: model.columns, withTarget: true })) {
    if (n === 0) {
      // Sized from the line count (never fewer than the rows), so nothing is copied on the way.
      const capacity = await countLines(path);
      y = new Uint8Array(capacity);
      p = new Float64Array(capacity);
    }
    if (n + f.ids.length > y.length) throw new Error(`${path}: more rows than lines while reading`);
    y.set(f.target as Uint8Array, n);
    p.set(model.predictProba(f), n);
    n += f.ids.length;
  }
  const scored = { y: y.subarray(0, n), p: p.subarray(0, n) };
  if (sameAs && (sameAs.length !== n || sameAs.some((v, i) => v !== scored.y[i]))) {
    throw new InputError(path, "changed while it was being read");
  }
  return scored;
}
