/**
 * The hyperparameters are the contract's train options (contract/pipeline.json): their names, types,
 * defaults and bounds live there, and the DAG's Params come from the same entries.
 */
import { contractOption, optionProblem, stageOptions, UsageError, type OptionName } from "@airflow-ml-dags/common";

export const FAMILIES = contractOption("family").enum as readonly string[] as readonly ("mlp" | "logreg" | "tree")[];
export type Family = (typeof FAMILIES)[number];

/** Every train option of the contract but the family, which is a choice, not a number. */
export const NUMERIC_HYPERPARAMS = stageOptions("train").filter((n) => n !== "family") as Exclude<OptionName, "family">[];
export type NumericHyperparam = (typeof NUMERIC_HYPERPARAMS)[number];

export type Hyperparams = { family: Family } & Record<NumericHyperparam, number>;

/** The train CLI's defaults, read from the contract, so the library, the CLI and the DAG cannot disagree. */
export const DEFAULT_HYPERPARAMS: Hyperparams = Object.fromEntries(
  stageOptions("train").map((n) => [n, contractOption(n).default]),
) as Hyperparams;

/** Why `value` is not acceptable for `key`, or undefined when it is. */
export const hyperparamProblem = (key: NumericHyperparam, value: number) => optionProblem(key, value);

export function checkHyperparams(hp: Hyperparams): void {
  if (!(FAMILIES as readonly string[]).includes(hp.family)) {
    throw new UsageError(`model family: expected one of ${FAMILIES.join(", ")}, got "${hp.family}"`);
  }
  for (const key of NUMERIC_HYPERPARAMS) {
    const problem = hyperparamProblem(key, hp[key]);
    if (problem) throw new UsageError(`hyperparameter ${key}: ${problem}`);
  }
}
