// Small labelled frames for the tests: the label is the sign of a fixed linear score plus noise. The
// weights fall off by column, so the axis-aligned splits of a tree fit it nearly as well as a line.
import { normal, rng, type Frame } from "@airflow-ml-dags/common";

export interface SyntheticOptions {
  rows: number;
  seed: string;
  columns?: string[];
  /** Share of cells left missing (NaN). */
  missing?: number;
  /** Standard deviation of the noise added to the score before thresholding. */
  noise?: number;
  idPrefix?: string;
}

export function synthetic(opts: SyntheticOptions): Frame & { target: Uint8Array } {
  const columns = opts.columns ?? ["f00", "f01", "f02", "f03"];
  const d = columns.length;
  const r = rng(opts.seed);
  const values = new Float64Array(opts.rows * d);
  const target = new Uint8Array(opts.rows);
  const ids: string[] = [];
  for (let i = 0; i < opts.rows; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      // Different scales and offsets per column, so standardization has work to do.
      const v = 10 * j + (j + 1) * normal(r);
      values[i * d + j] = v;
      s += ((j % 2 ? -1 : 1) * (v - 10 * j)) / (j + 1) / 3 ** j;
    }
    target[i] = s + (opts.noise ?? 0.1) * normal(r) > 0 ? 1 : 0;
    for (let j = 0; j < d; j++) if (r() < (opts.missing ?? 0)) values[i * d + j] = Number.NaN;
    ids.push(`${opts.idPrefix ?? opts.seed}-${i}`);
  }
  return { path: `${opts.seed}.csv`, ids, columns, values, target };
}

export function accuracy(p: Float64Array, y: Uint8Array): number {
  let ok = 0;
  p.forEach((v, i) => {
    if ((v >= 0.5 ? 1 : 0) === y[i]) ok++;
  });
  return ok / y.length;
}

/** Rows of several frames with the same columns, in order. */
export function concat(a: Frame, b: Frame): Frame {
  const values = new Float64Array(a.values.length + b.values.length);
  values.set(a.values);
  values.set(b.values, a.values.length);
  const out: Frame = { path: a.path, ids: [...a.ids, ...b.ids], columns: a.columns, values };
  if (a.target && b.target) {
    const t = new Uint8Array(a.target.length + b.target.length);
    t.set(a.target);
    t.set(b.target, a.target.length);
    out.target = t;
  }
  return out;
}

/** A logger that keeps its lines, so tests can look at what training logged. */
export function memoryLogger() {
  const lines: { level: string; msg: string; [k: string]: unknown }[] = [];
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => lines.push({ level, msg, ...fields });
  return {
    lines,
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    progress: () => () => {},
  };
}
