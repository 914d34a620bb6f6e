/**
 * The pipeline contract (contract/pipeline.json), the one place the facts shared with the DAGs are written:
 * image names, the data layout, the raw schema, every option the DAGs pass (defaults, bounds, help), the gate
 * metrics, the model-reference grammar and the default names. esbuild bundles the JSON into each image; the
 * DAG side reads the same file (airflow_ml_dags/contract.py).
 */
import { join } from "node:path";
import pipeline from "../../../contract/pipeline.json" with { type: "json" };
import { UsageError } from "./errors.ts";
import type { OptionSpec } from "./cli.ts";

export const CONTRACT = pipeline;

export const NAMES = pipeline.names;
export const DATA_DIR = pipeline.data_dir;
/** Which Airflow task try a container is: the variables the DAG side sets, and the MLflow tags they become. */
export const TASK_IDENTITY = pipeline.task_identity;

export type LayoutKey = keyof typeof pipeline.layout;
/** Where `key` of the layout lies for a run date, under `dataDir`. */
export const layoutPath = (dataDir: string, key: LayoutKey, ds: string) => join(dataDir, pipeline.layout[key].replaceAll("{ds}", ds));

export const ID = pipeline.raw_schema.id.name;
export const TARGET = pipeline.raw_schema.target.name;
/** The feature columns of raw data, in order: what generate writes and every reader of raw data demands. */
export const FEATURES: readonly string[] = pipeline.raw_schema.features.map((f) => f.name);

/** The option groups (window, hyperparameters, gate, scoring) and the names in each. */
export type OptionGroup = keyof typeof pipeline.options;
export type OptionName<G extends OptionGroup = OptionGroup> = G extends OptionGroup ? keyof (typeof pipeline.options)[G] & string : never;
export type HyperparamName = OptionName<"hyperparameters">;

export interface ContractOption {
  group: OptionGroup;
  type: "integer" | "number" | "string";
  default: number | string;
  help: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  enum?: string[];
  enum_from?: "gate_metrics";
  /** A string option's values: a regular expression (JSON Schema's `pattern`) the whole value must match. */
  pattern?: string;
  families?: string[];
}

export const GATE_METRICS = Object.keys(pipeline.gate_metrics) as (keyof typeof pipeline.gate_metrics)[];
export type GateMetric = (typeof GATE_METRICS)[number];
export const lowerIsBetter = (metric: GateMetric) => pipeline.gate_metrics[metric].better === "lower";

const OPTIONS = new Map<string, ContractOption>();
for (const [group, options] of Object.entries(pipeline.options)) {
  for (const [name, spec] of Object.entries(options as Record<string, Omit<ContractOption, "group">>)) {
    OPTIONS.set(name, { ...spec, group: group as OptionGroup, ...(spec.enum_from === "gate_metrics" ? { enum: GATE_METRICS } : {}) });
  }
}

/** The option as the contract declares it, with its enum spelled out. */
export function contractOption(name: OptionName): ContractOption {
  return OPTIONS.get(name) as ContractOption;
}

/** The names of a group, in the contract's order. */
export const groupOptions = <G extends OptionGroup>(group: G) => Object.keys(pipeline.options[group]) as OptionName<G>[];

/** The option names a stage's CLI takes from the contract: those of its groups, in the contract's order. */
export function stageOptions(stage: keyof typeof pipeline.stages): OptionName[] {
  return pipeline.stages[stage].options.flatMap((g) => groupOptions(g as OptionGroup));
}

/** `learning_rate` → `learning-rate`: how a contract option is spelled on a command line. */
export const cliName = (name: string) => name.replaceAll("_", "-");

/** What --help shows for a contract option: its help, its choices, the families it applies to, its default. */
export function cliOption(name: OptionName): OptionSpec {
  const o = contractOption(name);
  const choices = o.enum ? `: ${o.enum.join(", ")}` : "";
  const families = o.families ? ` (${o.families.join(", ")})` : "";
  return { help: `${o.help}${choices}${families}`, default: String(o.default) };
}

/** The CLI options of `stage` that come from the contract, keyed by their command-line names. */
export const cliOptions = (stage: keyof typeof pipeline.stages): Record<string, OptionSpec> =>
  Object.fromEntries(stageOptions(stage).map((n) => [cliName(n), cliOption(n)]));

/** Why `value` is not acceptable for a numeric option, or undefined when it is (the CLIs' `in [min, max]` wording). */
export function optionProblem(name: OptionName, value: number): string | undefined {
  const o = contractOption(name);
  const integer = o.type === "integer";
  const kind = integer ? "an integer" : "a number";
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) return `expected ${kind}, got ${value}`;
  const exclusive = o.exclusiveMinimum !== undefined;
  const min = exclusive ? o.exclusiveMinimum : o.minimum;
  const low = min === undefined ? false : exclusive ? value <= min : value < min;
  const high = o.maximum !== undefined && value > o.maximum;
  if (!low && !high) return undefined;
  return `expected ${kind} in ${exclusive ? "(" : "["}${min ?? "-inf"}, ${o.maximum ?? "inf"}], got ${value}`;
}

/** A numeric contract option read from its command-line text; a bad value is a UsageError naming the option. */
export function numberOption(name: OptionName, raw: string): number {
  const value = raw.trim() === "" ? Number.NaN : Number(raw);
  const problem = optionProblem(name, value);
  if (problem) throw new UsageError(`--${cliName(name)}: ${Number.isNaN(value) ? problem.replace(/NaN$/, `"${raw}"`) : problem}`);
  return value;
}

/** A string contract option (a choice) read from its command-line text. */
export function choiceOption<T extends string = string>(name: OptionName, raw: string): T {
  const choices = contractOption(name).enum ?? [];
  if (!choices.includes(raw)) throw new UsageError(`--${cliName(name)}: expected one of ${choices.join(", ")}, got "${raw}"`);
  return raw as T;
}

/**
 * A string contract option read from its command-line text: one of its choices when it has an enum, else a text
 * its `pattern` accepts (the empty text too, when the pattern does); anything else is a UsageError naming the option.
 */
export function stringOption(name: OptionName, raw: string): string {
  const o = contractOption(name);
  if (o.type !== "string") throw new Error(`${name} is a ${o.type} option, not a string`);
  if (o.enum) return choiceOption(name, raw);
  if (o.pattern !== undefined && !new RegExp(o.pattern, "u").test(raw)) {
    throw new UsageError(`--${cliName(name)}: expected a value matching ${o.pattern}, got "${raw}"`);
  }
  return raw;
}

const REF = pipeline.model_ref;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
/** `models:/<name>@<alias>` and `models:/<name>/<version>`, built from the contract's grammar. */
export const MODEL_REF_BY_ALIAS = new RegExp(`^${escape(REF.registry_prefix)}(${REF.name})@(${REF.alias})$`);
export const MODEL_REF_BY_VERSION = new RegExp(`^${escape(REF.registry_prefix)}(${REF.name})/(${REF.version})$`);
export const MODEL_NAME = new RegExp(`^${REF.name}$`);
export const MODEL_ALIAS = new RegExp(`^${REF.alias}$`);
