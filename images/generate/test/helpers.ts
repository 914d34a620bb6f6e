import { fileURLToPath } from "node:url";
import { profileColumn } from "@airflow-ml-dags/common";
import { runMain, withTmp } from "../../common/test/helpers.ts";

export const main = fileURLToPath(new URL("../src/main.ts", import.meta.url));

/** Runs the CLI as the image does, in a child process. */
export const runGenerate = (...args: string[]) => runMain(main, args);

export { withTmp };

/** The numeric cells of a generated data.csv text, NaN where empty, and the labels of its target.csv. */
export function parse(data: string, target: string) {
  const [header, ...lines] = data.trim().split("\n");
  const rows = lines.map((l) => l.split(",").slice(1).map((c) => (c === "" ? Number.NaN : Number(c))));
  const ids = lines.map((l) => l.split(",")[0] as string);
  const targetLines = target.trim().split("\n").slice(1);
  const labels = targetLines.map((l) => Number(l.split(",")[1]));
  const targetIds = targetLines.map((l) => l.split(",")[0] as string);
  return { header: (header as string).split(","), ids, rows, labels, targetIds };
}

export const column = (rows: number[][], j: number) => rows.map((r) => r[j] as number).filter((v) => !Number.isNaN(v));
export const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;

export function correlation(xs: number[], ys: number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    const dx = x - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  });
  return sxy / Math.sqrt(sxx * syy);
}

/** ROC AUC by ranks (Mann–Whitney); the scores here have no ties worth caring about. */
export function rocAuc(scores: number[], labels: number[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let rankSum = 0;
  let pos = 0;
  order.forEach((i, rank) => {
    if (labels[i] === 1) {
      rankSum += rank + 1;
      pos++;
    }
  });
  const neg = labels.length - pos;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Population stability index of `day` against `train`, as the monitor computes it: 10 bins on the deciles of
 * `train` (numpy's linear quantiles), shares clipped to 1e-4 on both sides.
 */
export function psi(train: number[], day: number[]): number {
  const q = profileColumn(train).quantiles;
  const edges = Array.from({ length: 9 }, (_, i) => q[10 * (i + 1)] as number);
  const shares = (xs: number[]) => {
    const counts = new Array<number>(10).fill(0);
    for (const x of xs) {
      let b = 0;
      while (b < 9 && x > (edges[b] as number)) b++;
      counts[b] = (counts[b] as number) + 1;
    }
    return counts.map((c) => Math.max(c / xs.length, 1e-4));
  };
  const expected = shares(train);
  return shares(day).reduce((sum, a, i) => sum + (a - (expected[i] as number)) * Math.log(a / (expected[i] as number)), 0);
}
