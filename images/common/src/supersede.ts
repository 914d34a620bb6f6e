/**
 * Which Airflow task try a stage runs as, and what a retry does with the MLflow runs of the tries before it.
 *
 * When a worker or the scheduler dies while a task runs, Airflow starts a new try, but MLflow keeps the killed
 * try's run: RUNNING forever, or FINISHED if its container outlived the worker. The new try supersedes it:
 * tags it `superseded_by=<new run id>` and marks it FAILED, so one run per task and DAG run stays current. A
 * run some model version came from is a real record and is left as it is. The names are the contract's
 * (task_identity); without its two variables (offline runs, tests, a user's `docker run`) nothing of this runs.
 */
import { TASK_IDENTITY } from "./contract.ts";
import { InputError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { filterValue, tagEquals, type MlflowClient, type Run } from "./mlflow.ts";

export interface TaskTry {
  /** `<dag_id>/<task_id>/<run_id>`, then `/<map_index>` for a mapped task. */
  runKey: string;
  /** Airflow's try number, from 1. */
  tryNumber: number;
}

// Airflow's ids hold no whitespace, quotes or backslashes (its default run id pattern is [A-Za-z0-9_.~:+-]);
// anything else is refused, so a run key always fits one search filter literal.
const SEGMENT = /^[^\s/'"\\`]+$/u;
const RUN_KEY_MAX = 1000;

function parseRunKey(raw: string): string {
  const name = TASK_IDENTITY.run_key_env;
  const parts = raw.split("/");
  const ok =
    raw.length <= RUN_KEY_MAX &&
    (parts.length === 3 || parts.length === 4) &&
    parts.every((p) => SEGMENT.test(p)) &&
    (parts.length === 3 || /^\d+$/.test(parts[3] as string));
  if (!ok) {
    const problem = `expected <dag_id>/<task_id>/<run_id>[/<map_index>] without spaces or quotes, got ${JSON.stringify(raw)}`;
    throw new InputError(name, problem);
  }
  return raw;
}

function parseTryNumber(raw: string): number {
  const n = /^[1-9]\d{0,8}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new InputError(TASK_IDENTITY.try_number_env, `expected a positive integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/**
 * The task try the DAG side names in the contract's two variables, or undefined when neither is set (an empty
 * value counts as unset, as everywhere in the images). One without the other, or a malformed value, is an
 * InputError naming the variable: tagging half an identity would let a later try miss this run.
 */
export function taskTry(env: NodeJS.ProcessEnv = process.env): TaskTry | undefined {
  const { run_key_env: KEY, try_number_env: TRY } = TASK_IDENTITY;
  const key = env[KEY]?.trim() ?? "";
  const tryRaw = env[TRY]?.trim() ?? "";
  if (key === "" && tryRaw === "") return undefined;
  if (key === "") throw new InputError(KEY, `not set, but ${TRY} is: set both or neither`);
  if (tryRaw === "") throw new InputError(TRY, `not set, but ${KEY} is: set both or neither`);
  return { runKey: parseRunKey(key), tryNumber: parseTryNumber(tryRaw) };
}

/** The tags that make a run findable by a later try of the same task. */
export const taskTryTags = (t: TaskTry): Record<string, string> => ({
  [TASK_IDENTITY.run_key_tag]: t.runKey,
  [TASK_IDENTITY.try_number_tag]: String(t.tryNumber),
});

/** A try number tag as a number; missing or unreadable reads as 0, earlier than any real try. */
const tryOf = (run: Run) => {
  const raw = run.tags[TASK_IDENTITY.try_number_tag] ?? "";
  return /^\d+$/.test(raw) ? Number(raw) : 0;
};

const TERMINAL_FAILED = new Set(["FAILED", "KILLED"]);

/** The registered versions (as `name/version`) that came from a run. */
async function versionsFrom(mlflow: MlflowClient, runId: string): Promise<string[]> {
  const filter = `run_id = ${filterValue(runId, `runs:/${runId}`)}`;
  return (await mlflow.searchModelVersions(filter)).map((v) => `${v.name}/${v.version}`);
}

export interface SupersedeOutcome {
  /** Runs this call tagged and marked FAILED (or, tagged before by a try that stopped halfway, marked FAILED). */
  superseded: string[];
  /** Earlier runs left alone because a model version came from them. */
  kept: string[];
}

/**
 * Supersedes the runs of earlier tries of `current`'s run key in the experiment: those with a lower try number
 * (or none), not tagged superseded_by yet, and no model version made from them. The tag goes first, so a late
 * finisher that re-reads its run (`refuseIfSuperseded`) sees it before the FAILED status lands; a run tagged by
 * a try that stopped before marking it is marked now, so repeating this (a retry of the retry) completes
 * rather than redoes. MLflow errors propagate: a task that cannot tell which run is current must not go on.
 */
export async function supersedeEarlierTries(
  mlflow: MlflowClient,
  current: { experimentId: string; runId: string; taskTry: TaskTry },
  log: Logger,
): Promise<SupersedeOutcome> {
  const { runKey, tryNumber } = current.taskTry;
  const byTag = TASK_IDENTITY.superseded_by_tag;
  const filter = tagEquals(TASK_IDENTITY.run_key_tag, runKey, TASK_IDENTITY.run_key_env);
  const found = await mlflow.searchRuns([current.experimentId], filter);
  const outcome: SupersedeOutcome = { superseded: [], kept: [] };
  // The filter is exact, but the exact comparison here is what guarantees no other task's run is touched.
  const earlier = found.filter(
    (r) => r.info.runId !== current.runId && r.tags[TASK_IDENTITY.run_key_tag] === runKey && tryOf(r) < tryNumber,
  );
  for (const run of earlier) {
    const runId = run.info.runId;
    const by = run.tags[byTag];
    if (by !== undefined && TERMINAL_FAILED.has(run.info.status)) continue;
    const fields = { run_id: runId, try_number: tryOf(run) || null, status: run.info.status, run_key: runKey };
    if (by === undefined) {
      const versions = await versionsFrom(mlflow, runId);
      if (versions.length > 0) {
        log.info("kept an earlier try's MLflow run: a registered model version came from it", { ...fields, versions });
        outcome.kept.push(runId);
        continue;
      }
      await mlflow.setTags(runId, { [byTag]: current.runId });
    }
    // A run that already ended FAILED or KILLED keeps its status and end time: only the tag is news.
    if (!TERMINAL_FAILED.has(run.info.status)) await mlflow.finishRun(runId, "FAILED");
    log.info("superseded an earlier try's MLflow run", { ...fields, [byTag]: by ?? current.runId });
    outcome.superseded.push(runId);
  }
  return outcome;
}

/** What a superseded try fails with: the later try owns the outputs now. */
export class SupersededError extends InputError {
  constructor(
    runId: string,
    readonly by: string,
  ) {
    super(`runs:/${runId}`, `superseded by a later try ${by}`);
    this.name = "SupersededError";
  }
}

/** Re-reads the run and throws SupersededError if a later try has superseded it meanwhile. */
export async function refuseIfSuperseded(mlflow: MlflowClient, runId: string): Promise<void> {
  const by = (await mlflow.getRun(runId)).tags[TASK_IDENTITY.superseded_by_tag];
  if (by !== undefined) throw new SupersededError(runId, by);
}
