/**
 * Drift of one numeric column against its training profile (101 quantiles, numpy's "linear" method): the
 * population stability index on the profile's deciles and the Kolmogorov–Smirnov distance to the profile's
 * piecewise-linear CDF. The day's side is its sorted non-missing values, so both are exact for the day; the
 * training side is as exact as a profile of 101 quantiles allows (test/drift.test.ts measures how close).
 */

/** Shares below this are raised to it, on both sides, before the PSI's logarithm. */
export const PSI_FLOOR = 1e-4;

/** Index of the first value of `sorted` that is >= x (`strict`: > x): the count of values < x (<= x). */
function bound(sorted: ArrayLike<number>, x: number, strict: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as number;
    if (v < x || (strict && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many values of `sorted` are <= x (`left`: < x). */
export const countAtMost = (sorted: ArrayLike<number>, x: number, left = false) => bound(sorted, x, !left);

/**
 * The training CDF at x: the piecewise-linear function through (quantiles[i], i/100), 0 below the first and 1
 * above the last, right-continuous where equal quantiles make it jump. `left`: its limit from below, F(x−).
 */
export function profileCdf(quantiles: readonly number[], x: number, left = false): number {
  const last = quantiles.length - 1;
  // The last i with quantiles[i] <= x (< x for the left limit), -1 if none.
  const i = countAtMost(quantiles, x, left) - 1;
  if (i < 0) return 0;
  if (i >= last) return 1;
  const lo = quantiles[i] as number;
  const hi = quantiles[i + 1] as number;
  return (i + (x - lo) / (hi - lo)) / last;
}

/** The PSI's inner bin edges: the profile's deciles, equal ones merged (a bin (e, e] holds nothing). */
export function decileEdges(quantiles: readonly number[]): number[] {
  const step = (quantiles.length - 1) / 10;
  const edges: number[] = [];
  for (let k = 1; k < 10; k++) {
    const e = quantiles[k * step] as number;
    if (edges.length === 0 || e > (edges[edges.length - 1] as number)) edges.push(e);
  }
  return edges;
}

/** Shares of the bins (-inf, e1], (e1, e2], …, (en, inf) under the training profile. */
export function profileShares(quantiles: readonly number[], edges: readonly number[]): number[] {
  const cdf = edges.map((e) => profileCdf(quantiles, e));
  return [...cdf, 1].map((c, k) => c - (k === 0 ? 0 : (cdf[k - 1] as number)));
}

/** Shares of the same bins among the day's sorted values (all zero when there are none). */
export function sampleShares(sorted: ArrayLike<number>, edges: readonly number[]): number[] {
  const n = sorted.length;
  const counts = edges.map((e) => countAtMost(sorted, e));
  return [...counts, n].map((c, k) => (n === 0 ? 0 : (c - (k === 0 ? 0 : (counts[k - 1] as number))) / n));
}

/** Σ (actual − expected) · ln(actual / expected), every share raised to PSI_FLOOR first. */
export function psiOfShares(actual: readonly number[], expected: readonly number[]): number {
  let psi = 0;
  for (let k = 0; k < actual.length; k++) {
    const a = Math.max(actual[k] as number, PSI_FLOOR);
    const e = Math.max(expected[k] as number, PSI_FLOOR);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/** PSI of the day's sorted values against the profile, on the profile's deciles. */
export function psi(quantiles: readonly number[], sorted: ArrayLike<number>): number {
  const edges = decileEdges(quantiles);
  return psiOfShares(sampleShares(sorted, edges), profileShares(quantiles, edges));
}

/**
 * sup_x |F_train(x) − F_day(x)|, null without values. Between two consecutive points where either function
 * steps or bends (the day's values, the profile's quantiles) one is constant and the other linear, so the
 * supremum is reached at those points, from one side or the other: both sides are compared there.
 */
export function ks(quantiles: readonly number[], sorted: ArrayLike<number>): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  let sup = 0;
  const compare = (x: number, below: number, atOrBelow: number) => {
    sup = Math.max(sup, Math.abs(profileCdf(quantiles, x, true) - below / n), Math.abs(profileCdf(quantiles, x) - atOrBelow / n));
  };
  for (let i = 0; i < n; ) {
    const x = sorted[i] as number;
    let j = i + 1;
    while (j < n && sorted[j] === x) j++;
    compare(x, i, j);
    i = j;
  }
  for (const q of quantiles) compare(q, countAtMost(sorted, q, true), countAtMost(sorted, q));
  return sup;
}

/** The non-missing values of a column, sorted, in place at the start of `values` (NaN marks missing). */
export function sortedPresent(values: Float64Array): Float64Array {
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isNaN(v)) values[n++] = v;
  }
  return values.subarray(0, n).sort();
}
