// An Airflow retry of train on the real images and a real MLflow server: the DAG side passes the contract's run key
// and try number, so try 2 of a task supersedes the run try 1 left (its worker was killed) and one run per task
// stays current. A try 1 container that outlives its worker and finishes late must then fail without swapping its
// model folder over try 2's.
import { expect } from "chai";
import { execa } from "execa";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MlflowClient, type Run } from "../../../images/common/src/mlflow.ts";
import { tagEquals } from "../../../images/common/src/mlflow/search.ts";
import {
  CONTRACT,
  type MlflowOnNetwork,
  image,
  makeDataDir,
  removeDir,
  runStage,
  startMlflowOnNetwork,
  theErrorLine,
  treeSums,
} from "./support.ts";

const ID = CONTRACT.task_identity;
const DS = "2026-11-20";

describe("a retried train supersedes the killed try's MLflow run", function () {
  let mlflow: MlflowOnNetwork | undefined;
  let client: MlflowClient;
  let dataDir = "";

  const identity = (runKey: string, tryNumber: number) => ({
    MLFLOW_TRACKING_URI: mlflow?.networkUri ?? "",
    [ID.run_key_env]: runKey,
    [ID.try_number_env]: String(tryNumber),
  });
  const train = (env: Record<string, string>, ...args: string[]) =>
    runStage("train", ["--ds", DS, ...args], { dataDir, ...(mlflow ? { network: mlflow.network } : {}), env });
  const runsOf = async (runKey: string): Promise<Run[]> => {
    const experiment = await client.getExperimentByName(CONTRACT.names.experiment);
    return experiment ? client.searchRuns([experiment.experimentId], tagEquals(ID.run_key_tag, runKey, "test")) : [];
  };
  const manifestRunId = async () => JSON.parse(await readFile(join(dataDir, `models/${DS}/manifest.json`), "utf8")).runId;

  before(async function () {
    this.timeout(300_000);
    dataDir = await makeDataDir("supersede");
    mlflow = await startMlflowOnNetwork("supersede");
    client = new MlflowClient(mlflow.server.uri);
    (await runStage("generate", ["--ds", DS, "--rows", "3000"], { dataDir })).result();
    (await runStage("prepare", ["prepare", "--ds", DS], { dataDir })).result();
    (await runStage("prepare", ["split", "--ds", DS], { dataDir })).result();
  });

  after(async function () {
    this.timeout(120_000);
    if (mlflow) await mlflow.stop();
    await removeDir(dataDir);
  });

  it("try 2 marks try 1's FINISHED run FAILED, superseded_by try 2's run: one current run for the key", async () => {
    const runKey = "train_model/train/scheduled__2026-11-20T00:00:00+00:00";
    const try1 = (await train(identity(runKey, 1), "--family", "tree")).result();
    const try2run = await train(identity(runKey, 2), "--family", "tree");
    const try2 = try2run.result();
    expect(try2.runId).to.be.a("string").and.not.equal(try1.runId);
    expect(await manifestRunId()).to.equal(try2.runId);

    const runs = await runsOf(runKey);
    expect(runs.map((r) => r.info.runId)).to.have.members([try1.runId, try2.runId]);
    const current = runs.filter((r) => r.tags[ID.superseded_by_tag] === undefined);
    expect(current.map((r) => r.info.runId)).to.deep.equal([try2.runId]);
    expect(current[0]?.info.status).to.equal("FINISHED");
    expect(current[0]?.tags).to.include({ [ID.run_key_tag]: runKey, [ID.try_number_tag]: "2" });
    const old = await client.getRun(try1.runId as string);
    expect(old.info.status).to.equal("FAILED");
    expect(old.tags).to.include({ [ID.superseded_by_tag]: try2.runId, [ID.try_number_tag]: "1" });
    const said = try2run.stderrLines.map((l) => JSON.parse(l)).filter((l) => l.msg === "superseded an earlier try's MLflow run");
    expect(said).to.have.length(1);
    expect(said[0]).to.include({ run_id: try1.runId, [ID.superseded_by_tag]: try2.runId });
  });

  it("a try 1 that outlives its worker and finishes after try 2 fails in one line and leaves try 2's model folder", async function () {
    this.timeout(600_000);
    const runKey = "train_model/train/manual__2026-11-20T06:00:00+00:00";
    const name = `aml-supersede-late-${randomBytes(4).toString("hex")}`;
    const env = Object.entries(identity(runKey, 1)).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    // An MLP of many epochs, so it is still training when stopped: the stopped container stands for the try
    // Airflow gave up on. SIGSTOP rather than docker pause, which needs the cgroup freezer.
    const network = mlflow?.network ?? "";
    await execa("docker", ["run", "-d", "--name", name, "--network", network, "-v", `${dataDir}:/data`, ...env, image("train"), "--ds", DS, "--epochs", "200"]);
    try {
      let late: Run | undefined;
      for (let i = 0; i < 600 && !late; i++) {
        late = (await runsOf(runKey))[0];
        if (!late) await sleep(100);
      }
      expect(late, "try 1 never created its run").to.not.equal(undefined);
      await execa("docker", ["kill", "--signal", "SIGSTOP", name]);
      expect((await client.getRun(late!.info.runId)).info.status, "try 1 ended before it was stopped").to.equal("RUNNING");

      const try2 = (await train(identity(runKey, 2), "--family", "tree")).result();
      const folder = await treeSums(join(dataDir, "models"));
      expect(await manifestRunId()).to.equal(try2.runId);

      await execa("docker", ["kill", "--signal", "SIGCONT", name]);
      const code = Number((await execa("docker", ["wait", name])).stdout);
      const logs = await execa("docker", ["logs", name]);
      const error = theErrorLine({
        code,
        stdout: logs.stdout,
        stderrLines: logs.stderr.trim().split("\n").filter(Boolean),
        result: () => ({}),
      });
      expect(code).to.equal(1);
      expect(logs.stdout).to.equal("");
      expect(error).to.equal(`runs:/${late!.info.runId}: superseded by a later try ${try2.runId}`);
      // Try 2's folder, byte for byte, and no temporary folder of try 1 left beside it.
      expect(await treeSums(join(dataDir, "models"))).to.deep.equal(folder);
      const after = await client.getRun(late!.info.runId);
      expect(after.info.status).to.equal("FAILED");
      expect(after.tags[ID.superseded_by_tag]).to.equal(try2.runId);
      expect(await client.listArtifacts(late!.info.runId, "model")).to.deep.equal([]);
      const current = (await runsOf(runKey)).filter((r) => r.tags[ID.superseded_by_tag] === undefined);
      expect(current.map((r) => r.info.runId)).to.deep.equal([try2.runId]);
    } finally {
      await execa("docker", ["rm", "-f", name], { reject: false });
    }
  });
});
