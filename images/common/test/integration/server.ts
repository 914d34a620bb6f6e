/**
 * A throw-away MLflow 3 server for tests: a container of the project's MLflow image (env MLFLOW_IMAGE),
 * SQLite backend and served artifacts like the real deployment. Needs Docker and the image built
 * beforehand; it is never pulled. Shared by the client's integration test and the registry scenario of
 * the smoke tests, which imports it by relative path.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

export const MLFLOW_IMAGE = process.env.MLFLOW_IMAGE ?? "airflow-ml-dags/mlflow:0.1.0";
const exec = promisify(execFile);

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await exec("docker", args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls /health until the server answers; fails early, with its logs, if the container dies. */
async function waitHealthy(uri: string, container: string, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      const res = await fetch(`${uri}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // Not listening yet: start-up takes tens of seconds. The checks below decide when to give up.
    }
    const running = await docker("inspect", "-f", "{{.State.Running}}", container).catch((err: Error) => `gone (${err.message})`);
    if (running !== "true") throw new Error(`MLflow container stopped before answering /health: ${running}`);
    if (Date.now() > deadline) {
      const logs = await docker("logs", "--tail", "30", container).catch((err: Error) => err.message);
      throw new Error(`MLflow did not answer /health within ${limitMs / 1000} s; last logs:\n${logs}`);
    }
    await sleep(500);
  }
}

export interface MlflowServer {
  container: string;
  /** The server as this process reaches it: a random port published on 127.0.0.1. */
  uri: string;
  /** The server as containers on `network` reach it (http://<name>:5000), when started on one. */
  networkUri?: string;
}

export interface MlflowServerOptions {
  /** Label value, so a leftover container says which test started it. */
  label: string;
  /** A user-defined Docker network to join, under the container name `name`. */
  network?: { name: string; alias: string };
  limitMs?: number;
}

/** Starts the server and waits until it answers; remove it with `docker rm -f <container>`. */
export async function startMlflowServer(opts: MlflowServerOptions): Promise<MlflowServer> {
  // The published port is random, so the Host header check needs a port wildcard; "*" would turn the
  // DNS-rebinding check off altogether. Containers on the network call it by its alias.
  const allowed = ["127.0.0.1:*", ...(opts.network ? [`${opts.network.alias}:*`] : [])];
  const container = await docker(
    "run", "-d", "--rm", "--pull", "never",
    "--label", `airflow-ml-dags.test=${opts.label}`,
    "-p", "127.0.0.1::5000",
    ...(opts.network ? ["--network", opts.network.name, "--network-alias", opts.network.alias] : []),
    MLFLOW_IMAGE,
    "mlflow", "server", "--host", "0.0.0.0", "--port", "5000",
    "--backend-store-uri", "sqlite:////mlflow/mlflow.db",
    "--artifacts-destination", "/mlflow/artifacts", "--serve-artifacts",
    "--allowed-hosts", allowed.join(","),
    "--workers", "1",
  );
  try {
    const published = (await docker("port", container, "5000/tcp")).split("\n")[0] ?? "";
    const port = published.slice(published.lastIndexOf(":") + 1);
    if (!/^\d+$/.test(port)) throw new Error(`docker port said "${published}", expected host:port`);
    const uri = `http://127.0.0.1:${port}`;
    await waitHealthy(uri, container, opts.limitMs ?? 200_000);
    return { container, uri, ...(opts.network ? { networkUri: `http://${opts.network.alias}:5000` } : {}) };
  } catch (err) {
    // The caller never learns the id of a server that failed to start, so it is removed here.
    try {
      await docker("rm", "-f", container);
    } catch (rmErr) {
      throw new Error(`${(err as Error).message}; removing container ${container} failed too: ${(rmErr as Error).message}`);
    }
    throw err;
  }
}
