/**
 * A retry superseding the MLflow runs of the tries before it, against a real MLflow 3 server (the project's
 * image, env MLFLOW_IMAGE; see server.ts): which runs it marks, which it leaves, and that repeating it is a no-op.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  MlflowClient,
  SupersededError,
  TASK_IDENTITY,
  createLogger,
  refuseIfSuperseded,
  supersedeEarlierTries,
  tagEquals,
  taskTryTags,
  type Run,
} from "../../src/index.ts";
import { withTmp } from "../helpers.ts";
import { docker, startMlflowServer } from "./server.ts";

const BY = TASK_IDENTITY.superseded_by_tag;

describe("superseding a killed try's MLflow run, on a real MLflow 3 server", function () {
  this.timeout(60_000);
  let container: string | undefined;
  let client: MlflowClient;
  const suffix = randomBytes(3).toString("hex");
  let n = 0;

  before(async function () {
    this.timeout(240_000);
    const server = await startMlflowServer({ label: "mlflow-supersede" });
    container = server.container;
    client = new MlflowClient(server.uri);
  });

  after(async function () {
    this.timeout(60_000);
    if (container) await docker("rm", "-f", container);
  });

  /** A fresh experiment and run key per test, so no test sees another's runs. */
  async function scene() {
    n++;
    const exp = await client.getOrCreateExperiment(`supersede-${suffix}-${n}`);
    const runKey = `train_model/train/scheduled__2026-11-${String(n).padStart(2, "0")}T00:00:00+00:00`;
    const lines: Record<string, unknown>[] = [];
    const log = createLogger("test", (l) => lines.push(JSON.parse(l)));
    /** A run as train creates it for try `tryNumber` (no try tag when undefined), ended with `status` if given. */
    const run = async (tryNumber: number | undefined, status?: "FINISHED" | "FAILED", key = runKey, experimentId = exp.experimentId) => {
      const tags = tryNumber === undefined ? { [TASK_IDENTITY.run_key_tag]: key } : taskTryTags({ runKey: key, tryNumber });
      const created = await client.createRun(experimentId, { name: "train-2026-11-20", tags });
      if (status) await client.finishRun(created.info.runId, status);
      return created.info.runId;
    };
    const supersede = (runId: string, tryNumber: number) =>
      supersedeEarlierTries(client, { experimentId: exp.experimentId, runId, taskTry: { runKey, tryNumber } }, log);
    const superseded = () => lines.filter((l) => l.msg === "superseded an earlier try's MLflow run");
    return { exp, runKey, lines, run, supersede, superseded };
  }

  const get = (runId: string) => client.getRun(runId);
  /** What a supersede may change on a run: status, end time, tags. */
  const state = (r: Run) => ({ status: r.info.status, endTime: r.info.endTime, tags: r.tags });

  it("marks a RUNNING orphan FAILED with an end time and tags it superseded_by the new run, in one info line", async () => {
    const s = await scene();
    const orphan = await s.run(1);
    const current = await s.run(2);
    const before = Date.now();
    expect(await s.supersede(current, 2)).to.deep.equal({ superseded: [orphan], kept: [] });
    const after = await get(orphan);
    expect(after.info.status).to.equal("FAILED");
    expect(after.info.endTime).to.be.within(before - 5000, Date.now() + 5000);
    expect(after.tags).to.include({ [BY]: current, [TASK_IDENTITY.try_number_tag]: "1" });
    expect(s.superseded()).to.have.length(1);
    expect(s.superseded()[0]).to.include({ level: "info", run_id: orphan, try_number: 1, status: "RUNNING", [BY]: current });
    // The new run itself is left running and untagged.
    expect(state(await get(current))).to.deep.include({ status: "RUNNING" });
    expect((await get(current)).tags).to.not.have.property(BY);
  });

  it("supersedes a FINISHED orphan (its container outlived the worker) and one with no try number tag", async () => {
    const s = await scene();
    const finished = await s.run(1, "FINISHED");
    const untried = await s.run(undefined);
    const current = await s.run(2);
    const outcome = await s.supersede(current, 2);
    expect(outcome.superseded).to.have.members([finished, untried]);
    for (const id of [finished, untried]) {
      const r = await get(id);
      expect(r.info.status, id).to.equal("FAILED");
      expect(r.tags[BY]).to.equal(current);
    }
  });

  it("tags an already FAILED orphan without changing its status or end time", async () => {
    const s = await scene();
    const failed = await s.run(1, "FAILED");
    const endTime = (await get(failed)).info.endTime;
    const current = await s.run(2);
    expect((await s.supersede(current, 2)).superseded).to.deep.equal([failed]);
    expect(state(await get(failed))).to.deep.include({ status: "FAILED", endTime });
    expect((await get(failed)).tags[BY]).to.equal(current);
  });

  it("leaves a run a registered model version came from, saying so in an info line", async () => {
    const s = await scene();
    const registered = await s.run(1);
    await withTmp(async (tmp) => {
      await writeFile(join(tmp, "model.json"), "{}");
      await client.uploadArtifacts(registered, tmp, "model");
    });
    await client.finishRun(registered);
    const name = `supersede-${suffix}`;
    await client.createRegisteredModelIfMissing(name);
    const version = await client.createModelVersion(name, registered, "model");
    const before = state(await get(registered));
    const current = await s.run(2);
    expect(await s.supersede(current, 2)).to.deep.equal({ superseded: [], kept: [registered] });
    expect(state(await get(registered))).to.deep.equal(before);
    const kept = s.lines.filter((l) => l.msg === "kept an earlier try's MLflow run: a registered model version came from it");
    expect(kept).to.have.length(1);
    expect(kept[0]).to.deep.include({ run_id: registered, versions: [`${name}/${version.version}`] });
  });

  it("leaves runs of other run keys (a mapped index of the same task too), of other experiments and of later tries", async () => {
    const s = await scene();
    const other = await s.run(1, undefined, "train_model/train/manual__2026-11-20T00:00:00+00:00");
    const mapped = await s.run(1, undefined, `${s.runKey}/0`);
    const elsewhere = await s.run(1, undefined, s.runKey, (await client.getOrCreateExperiment(`supersede-${suffix}-elsewhere`)).experimentId);
    const later = await s.run(3);
    const orphan = await s.run(1);
    const current = await s.run(2);
    const untouched = [other, mapped, elsewhere, later];
    const before = await Promise.all(untouched.map(async (id) => state(await get(id))));
    expect(await s.supersede(current, 2)).to.deep.equal({ superseded: [orphan], kept: [] });
    expect(await Promise.all(untouched.map(async (id) => state(await get(id))))).to.deep.equal(before);
    for (const s0 of before) expect(s0.status).to.equal("RUNNING");
  });

  it("is idempotent: a second pass changes nothing, a retry of the retry supersedes only the try before it", async () => {
    const s = await scene();
    const try1 = await s.run(1);
    const try2 = await s.run(2);
    await s.supersede(try2, 2);
    const after1 = state(await get(try1));
    expect(await s.supersede(try2, 2)).to.deep.equal({ superseded: [], kept: [] });
    expect(state(await get(try1))).to.deep.equal(after1);
    expect(state(await get(try2))).to.deep.include({ status: "RUNNING" });

    const try3 = await s.run(3);
    expect(await s.supersede(try3, 3)).to.deep.equal({ superseded: [try2], kept: [] });
    // Try 1 keeps the record of what superseded it first.
    expect(state(await get(try1))).to.deep.equal(after1);
    expect((await get(try2)).tags[BY]).to.equal(try3);
    expect(s.superseded()).to.have.length(2);
  });

  it("completes a supersede that stopped between the tag and the status, keeping the first tag", async () => {
    const s = await scene();
    const orphan = await s.run(1);
    const first = await s.run(2);
    await client.setTags(orphan, { [BY]: first });
    const current = await s.run(3);
    // Try 2 stopped halfway through superseding try 1; try 3 finishes that and supersedes try 2 as well.
    expect((await s.supersede(current, 3)).superseded).to.have.members([orphan, first]);
    const r = await get(orphan);
    expect(r.info.status).to.equal("FAILED");
    expect(r.tags[BY]).to.equal(first);
  });

  it("lets a late finisher see it was superseded, in one line naming the later run", async () => {
    const s = await scene();
    const late = await s.run(1);
    await refuseIfSuperseded(client, late);
    const current = await s.run(2);
    await s.supersede(current, 2);
    let err: unknown;
    await refuseIfSuperseded(client, late).catch((e) => (err = e));
    expect(err).to.be.instanceOf(SupersededError);
    expect((err as Error).message).to.equal(`runs:/${late}: superseded by a later try ${current}`);
  });

  it("searches a tag value holding a quote exactly, as the server parses filters", async () => {
    const s = await scene();
    const odd = await client.createRun(s.exp.experimentId, { tags: { k: "it's" } });
    await client.createRun(s.exp.experimentId, { tags: { k: "it''s" } });
    const found = await client.searchRuns([s.exp.experimentId], tagEquals("k", "it's", "k"));
    expect(found.map((r) => r.info.runId)).to.deep.equal([odd.info.runId]);
  });
});
