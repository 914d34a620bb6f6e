// A task Airflow kills (DockerOperator's on_kill is `docker stop`: SIGTERM, then SIGKILL after a grace period)
// must end at once and leave the data folder as it found it, without the temporary files it was writing.
import { expect } from "chai";
import { execa } from "execa";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Stage, image, makeDataDir, removeDir, runStage, treeSums } from "./support.ts";

const DS = "2026-11-20";

describe("a task stopped by docker stop", function () {
  let dataDir = "";

  before(async () => {
    dataDir = await makeDataDir("stop");
    // Large enough that prepare takes seconds, long enough to be stopped while it writes; prepared once, so the
    // stopped run has a previous train_data.csv to leave as it was.
    (await runStage("generate", ["--ds", DS, "--rows", "400000"], { dataDir })).result();
    (await runStage("prepare", ["prepare", "--ds", DS], { dataDir })).result();
  });

  after(() => removeDir(dataDir));

  /** Starts the stage, waits until a temporary output shows under `folder`, stops the container and reports. */
  async function stopWhileWriting(stage: Stage, args: string[], folder: string) {
    const name = `aml-stop-${randomBytes(4).toString("hex")}`;
    await execa("docker", ["run", "-d", "--name", name, "-v", `${dataDir}:/data`, image(stage), ...args]);
    try {
      let writing = false;
      for (let i = 0; i < 1200 && !writing; i++) {
        writing = (await readdir(join(dataDir, folder)).catch(() => [] as string[])).some((e) => e.includes(".tmp-"));
        if (!writing) await sleep(25);
      }
      expect(writing, `no temporary output appeared under ${folder}`).to.equal(true);
      await execa("docker", ["stop", name]);
      const code = Number((await execa("docker", ["inspect", name, "--format", "{{.State.ExitCode}}"])).stdout);
      const logs = await execa("docker", ["logs", name]);
      const errors = logs.stderr
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { level: string; msg: string })
        .filter((l) => l.level === "error");
      return { code, stdout: logs.stdout, errors: errors.map((e) => e.msg) };
    } finally {
      await execa("docker", ["rm", "-f", name], { reject: false });
    }
  }

  for (const { stage, args, folder } of [
    { stage: "generate" as const, args: ["--ds", "2026-11-21", "--rows", "2000000"], folder: "raw" },
    { stage: "prepare" as const, args: ["prepare", "--ds", DS], folder: `processed/${DS}` },
  ]) {
    it(`${stage}: exits 143 on SIGTERM (not killed after the grace period), says so in one line, and leaves the data folder as it was`, async () => {
      const before = await treeSums(dataDir);
      const r = await stopWhileWriting(stage, args, folder);
      // 143 is 128 + SIGTERM: the stage ended itself; SIGKILL after Docker's grace period would give 137.
      expect(r.code).to.equal(143);
      expect(r.stdout).to.equal("");
      expect(r.errors).to.deep.equal(["stopped by SIGTERM: outputs not yet in place were removed"]);
      expect(await treeSums(dataDir)).to.deep.equal(before);
    });
  }
});
