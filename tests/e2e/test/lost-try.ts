// What a task try lost with its process (a Celery worker or the LocalExecutor's scheduler killed with SIGKILL)
// must not leave behind once its retry succeeded: a second live training record, or its container.
import { expect } from "chai";
import { execa } from "execa";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, type Stack } from "./stack.ts";

const IDENTITY = JSON.parse(readFileSync(join(ROOT, "contract/pipeline.json"), "utf8")).task_identity as {
  container_prefix: string;
  run_key_tag: string;
  superseded_by_tag: string;
};

/** The name the operator gives a task's containers (airflow_ml_dags/operators.py: the same for every try). */
export const taskContainer = (runKey: string) =>
  IDENTITY.container_prefix + createHash("sha256").update(runKey).digest("hex").slice(0, 32);

/** The run key of a task of a DAG run, as the operator passes it to the container. */
export const runKey = (dagId: string, taskId: string, runId: string) => `${dagId}/${taskId}/${runId}`;

const tagsOf = (run: any): Record<string, string> => Object.fromEntries((run.data.tags ?? []).map((t: any) => [t.key, t.value]));

/** The MLflow runs of the pipeline's experiment tagged with this run key. */
export async function trainingRecords(stack: Stack, key: string): Promise<any[]> {
  const exp = await fetch(`${stack.mlflowUrl}/api/2.0/mlflow/experiments/get-by-name?experiment_name=airflow-ml-dags`);
  if (!exp.ok) return [];
  const { experiment } = (await exp.json()) as { experiment: { experiment_id: string } };
  const filter = `tags.${IDENTITY.run_key_tag} = '${key}'`;
  const res = await fetch(`${stack.mlflowUrl}/api/2.0/mlflow/runs/search`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ experiment_ids: [experiment.experiment_id], filter }),
  });
  expect(res.status, `runs/search ${filter}`).to.equal(200);
  return ((await res.json()) as { runs?: any[] }).runs ?? [];
}

/**
 * One live training record for the key, FINISHED, and every other one (the lost try's) FAILED and tagged as
 * superseded by it. Returns the live run's id.
 */
export async function expectOneTrainingRecord(stack: Stack, key: string): Promise<string> {
  const runs = await trainingRecords(stack, key);
  const superseded = (r: any) => tagsOf(r)[IDENTITY.superseded_by_tag];
  const live = runs.filter((r) => !superseded(r));
  expect(live.map((r) => r.info.status), `${key}: runs not superseded`).to.deep.equal(["FINISHED"]);
  const kept = live[0].info.run_id as string;
  const lost = runs.filter(superseded);
  expect(lost.length, `${key}: the lost try's run`).to.be.at.least(1);
  for (const r of lost) {
    expect(r.info.status, r.info.run_id).to.equal("FAILED");
    expect(superseded(r), r.info.run_id).to.equal(kept);
  }
  return kept;
}

/** No task container on the stack's network, running or exited: neither a finished try's nor a lost one's. */
export async function expectNoTaskContainers(stack: Stack): Promise<void> {
  const { stdout } = await execa("docker", [
    "ps", "-a", "--format", "{{.Names}} {{.Status}}", "--filter", `name=${IDENTITY.container_prefix}`, "--filter", `network=${stack.project}`,
  ]);
  expect(stdout.split("\n").filter(Boolean), "task containers on the stack's network").to.deep.equal([]);
}
