import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { dayNumber, layoutPath } from "@airflow-ml-dags/common";
import { expect } from "chai";
import { runStage } from "../../model/test/cli.ts";
import { writeDay, writeModel } from "./helpers.ts";
import type { Report } from "../src/report.ts";

const PKG = resolve(import.meta.dirname, "..");
const DAYS = ["2026-03-02", "2026-03-03"];

interface Run {
  run_id: string;
  experiment_id: string;
  run_name: string;
  status: string;
  tags: Record<string, string>;
}

/**
 * Just enough of the MLflow REST API for the monitor, keeping what it is sent: experiments by name, run search
 * by run name, runs, log-batch, run updates and served-artifact uploads.
 */
function fakeMlflow() {
  const experiments = new Map<string, string>();
  const runs: Run[] = [];
  const metrics: { run_id: string; key: string; value: number; step: number; timestamp: number }[] = [];
  const uploads = new Map<string, string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const body = Buffer.concat(chunks).toString("utf8");
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(value));
      };
      const info = (r: Run) => ({ ...r, artifact_uri: `mlflow-artifacts:/${r.experiment_id}/${r.run_id}/artifacts`, lifecycle_stage: "active" });
      const wire = (r: Run) => ({ info: info(r), data: { tags: Object.entries(r.tags).map(([key, value]) => ({ key, value })) } });
      const path = url.pathname.replace("/api/2.0/mlflow/", "");
      if (url.pathname.startsWith("/api/2.0/mlflow-artifacts/artifacts/")) {
        uploads.set(decodeURIComponent(url.pathname.replace("/api/2.0/mlflow-artifacts/artifacts/", "")), body);
        return json(200, {});
      }
      const p = body ? JSON.parse(body) : {};
      switch (path) {
        case "experiments/get-by-name": {
          const id = experiments.get(url.searchParams.get("experiment_name") ?? "");
          if (!id) return json(404, { error_code: "RESOURCE_DOES_NOT_EXIST", message: "no such experiment" });
          return json(200, { experiment: { experiment_id: id, name: url.searchParams.get("experiment_name"), lifecycle_stage: "active" } });
        }
        case "experiments/create":
          experiments.set(p.name, String(experiments.size + 1));
          return json(200, { experiment_id: experiments.get(p.name) });
        case "runs/search": {
          const name = /attributes\.run_name = '([^']*)'/.exec(p.filter)?.[1];
          return json(200, { runs: runs.filter((r) => p.experiment_ids.includes(r.experiment_id) && r.run_name === name).map(wire) });
        }
        case "runs/create": {
          const tags = Object.fromEntries((p.tags as { key: string; value: string }[]).map((t) => [t.key, t.value]));
          const run = { run_id: `run${runs.length + 1}`, experiment_id: p.experiment_id, run_name: p.run_name, status: "RUNNING", tags };
          runs.push(run);
          return json(200, { run: wire(run) });
        }
        case "runs/get":
          return json(200, { run: wire(runs.find((r) => r.run_id === url.searchParams.get("run_id")) as Run) });
        case "runs/log-batch": {
          const run = runs.find((r) => r.run_id === p.run_id) as Run;
          for (const t of p.tags ?? []) run.tags[t.key] = t.value;
          for (const m of p.metrics ?? []) metrics.push({ run_id: p.run_id, ...m });
          return json(200, {});
        }
        case "runs/update": {
          const run = runs.find((r) => r.run_id === p.run_id) as Run;
          run.status = p.status;
          return json(200, { run_info: info(run) });
        }
        default:
          return json(404, { error_code: "ENDPOINT_NOT_FOUND", message: path });
      }
    });
  });
  return { server, experiments, runs, metrics, uploads };
}

describe("monitor with MLflow", function () {
  this.timeout(60_000);
  let dataDir: string;
  const fake = fakeMlflow();
  let server: Server;
  let uri: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "monitor-mlflow-"));
    await writeModel(dataDir);
    for (const ds of DAYS) await writeDay(dataDir, ds);
    server = fake.server;
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    uri = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    await new Promise<void>((done) => server.close(() => done()));
    await rm(dataDir, { recursive: true, force: true });
  });

  it("logs each day into the one run of the model version, at the day's step and midnight", async () => {
    for (const ds of [...DAYS, DAYS[0] as string]) {
      const run = await runStage(PKG, ["--ds", ds, "--data-dir", dataDir], { MLFLOW_TRACKING_URI: uri });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.result.mlflow_run_id).to.equal("run1");
    }
    expect([...fake.experiments.keys()]).to.deep.equal(["airflow-ml-dags-monitoring"]);
    expect(fake.runs).to.have.length(1);
    const [run] = fake.runs as [Run];
    expect(run).to.include({ run_name: "monitor-v3", status: "FINISHED" });
    expect(run.tags).to.include({ model_version: "3", registered_model: "airflow-ml-dags-classifier", last_ds: DAYS[0] });
    const report = JSON.parse(await readFile(layoutPath(dataDir, "monitoring_report", DAYS[1] as string), "utf8")) as Report;
    const second = fake.metrics.filter((m) => m.step === dayNumber(DAYS[1] as string));
    expect(second.map((m) => m.key)).to.deep.equal(["monitor_roc_auc", "monitor_log_loss", "monitor_accuracy", "monitor_max_psi", "monitor_scores_psi"]);
    for (const m of second) expect(m.timestamp).to.equal(Date.parse(`${DAYS[1]}T00:00:00Z`));
    expect(second[0]?.value).to.equal(report.quality.roc_auc);
    // The rerun of the first day sent the same points again: the server keeps one of each.
    const first = fake.metrics.filter((m) => m.step === dayNumber(DAYS[0] as string)).map((m) => JSON.stringify(m));
    expect(new Set(first).size).to.equal(5);
    expect([...fake.uploads.keys()].sort()).to.deep.equal(DAYS.map((ds) => `1/run1/artifacts/reports/${ds}/report.html`));
    const page = await readFile(layoutPath(dataDir, "monitoring_page", DAYS[1] as string), "utf8");
    expect(fake.uploads.get(`1/run1/artifacts/reports/${DAYS[1]}/report.html`)).to.equal(page);
  });
});
