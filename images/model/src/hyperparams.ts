import { UsageError } from "@airflow-ml-dags/common";

export const FAMILIES = ["mlp", "logreg", "tree"] as const;
export type Family = (typeof FAMILIES)[number];

export interface Hyperparams {
  family: Family;
  epochs: number;
  learningRate: number;
  batchSize: number;
  hidden: number;
  l2: number;
  maxDepth: number;
  minSamples: number;
  seed: number;
}

export type NumericHyperparam = Exclude<keyof Hyperparams, "family">;

/** The defaults of the train CLI (docs/contracts.md), so the library and the CLI cannot disagree. */
export const DEFAULT_HYPERPARAMS: Hyperparams = {
  family: "mlp",
  epochs: 20,
  learningRate: 0.01,
  batchSize: 64,
  hidden: 32,
  l2: 0,
  maxDepth: 6,
  minSamples: 5,
  seed: 42,
};

export interface Limit {
  min: number;
  max: number;
  integer: boolean;
  /** The minimum itself is refused (a learning rate of 0 trains nothing). */
  exclusiveMin?: boolean;
}

export const HYPERPARAM_LIMITS: Record<NumericHyperparam, Limit> = {
  epochs: { min: 1, max: 10_000, integer: true },
  learningRate: { min: 0, max: 10, integer: false, exclusiveMin: true },
  batchSize: { min: 1, max: 1_000_000, integer: true },
  hidden: { min: 1, max: 4096, integer: true },
  l2: { min: 0, max: 10, integer: false },
  maxDepth: { min: 1, max: 64, integer: true },
  minSamples: { min: 1, max: 1_000_000, integer: true },
  // tfjs initializers take the seed as a number; keep it a plain 32-bit integer.
  seed: { min: 0, max: 2 ** 31 - 1, integer: true },
};

/** Why `value` is not acceptable for `key`, or undefined when it is. */
export function hyperparamProblem(key: NumericHyperparam, value: number): string | undefined {
  const { min, max, integer, exclusiveMin } = HYPERPARAM_LIMITS[key];
  const kind = integer ? "an integer" : "a number";
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) return `expected ${kind}, got ${value}`;
  if (exclusiveMin ? value <= min : value < min) return `expected ${kind} ${exclusiveMin ? ">" : ">="} ${min}, got ${value}`;
  if (value > max) return `expected ${kind} <= ${max}, got ${value}`;
  return undefined;
}

export function checkHyperparams(hp: Hyperparams): void {
  if (!(FAMILIES as readonly string[]).includes(hp.family)) {
    throw new UsageError(`model family: expected one of ${FAMILIES.join(", ")}, got "${hp.family}"`);
  }
  for (const key of Object.keys(HYPERPARAM_LIMITS) as NumericHyperparam[]) {
    const problem = hyperparamProblem(key, hp[key]);
    if (problem) throw new UsageError(`hyperparameter ${key}: ${problem}`);
  }
}
