/**
 * A small typed client for the MLflow 3 REST API: experiments, runs, served artifacts and the model
 * registry with aliases.
 *
 * Why not the `mlflow` package from npm: its last release (2.0.7) targets the MLflow 1.x REST API, built
 * around registry stages, which MLflow 3 deprecates; it knows neither aliases nor uploads through the
 * tracking server's served-artifacts proxy, and those two are all the pipeline relies on. Task containers
 * therefore talk plain HTTP (global fetch) to the tracking server and never touch the artifact store.
 *
 * Every failure the user can act on is an `InputError` (a `MlflowError`): its file part names the MLflow
 * URI concerned (`models:/<name>@<alias>`, `runs:/<run_id>/<path>`) or the tracking URI, and its problem
 * is one line. Connection errors and 5xx answers are retried a few times with a short backoff.
 */
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { replaceDirAtomic } from "./atomic.ts";
import { InputError } from "./errors.ts";

/** The server's log-batch limits (mlflow/utils/validation.py, same in the REST API reference). */
export const LOG_BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000, bytes: 1_000_000 } as const;

export interface MlflowClientOptions {
  /** Tries per request for connection errors and 5xx answers (default 3). */
  attempts?: number;
  /** Wait before the first retry in ms, doubled on each further retry (default 250). */
  backoffMs?: number;
  /** Time limit of one API call in ms (default 30 s). */
  timeoutMs?: number;
  /** Time limit of one artifact file upload or download in ms (default 10 min). */
  transferTimeoutMs?: number;
}

/** An MLflow failure: an `InputError` that also carries the HTTP status and MLflow error code, if any. */
export class MlflowError extends InputError {
  constructor(
    file: string,
    problem: string,
    /** The MLflow `error_code` (e.g. RESOURCE_DOES_NOT_EXIST), `HTTP_<status>`, or the network error code. */
    readonly code: string,
    readonly status?: number,
  ) {
    super(file, problem);
    this.name = "MlflowError";
  }
}

export type RunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";

export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  /** "active" or "deleted". */
  lifecycleStage: string;
  tags: Record<string, string>;
}

export interface RunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  status: RunStatus;
  startTime: number;
  endTime?: number;
  /** Where the run's artifacts live, e.g. `mlflow-artifacts:/1/<run_id>/artifacts`. */
  artifactUri: string;
  lifecycleStage: string;
}

export interface Run {
  info: RunInfo;
  params: Record<string, string>;
  /** The latest value of each metric; `getMetricHistory` has every step. */
  metrics: Record<string, number>;
  tags: Record<string, string>;
}

export interface Metric {
  key: string;
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

/** A metric point to log: timestamp defaults to now and step to 0. NaN and ±Infinity are accepted. */
export interface MetricInput {
  key: string;
  value: number;
  step?: number;
  timestamp?: number;
}

export type ParamValue = string | number | boolean;

export interface LogBatchInput {
  params?: Record<string, ParamValue>;
  metrics?: MetricInput[];
  tags?: Record<string, string>;
}

export interface ArtifactFile {
  /** Relative to the folder listed, with `/` separators. */
  path: string;
  isDir: boolean;
  /** Bytes, for files. */
  size?: number;
}

export interface RegisteredModel {
  name: string;
  description: string;
  /** Alias → version. */
  aliases: Record<string, string>;
  tags: Record<string, string>;
}

export interface ModelVersion {
  name: string;
  version: string;
  /** Where the files are, as given at creation (here the run's served-artifacts URI). */
  source: string;
  runId?: string;
  /** "READY" once registered (the SQL registry store registers synchronously). */
  status: string;
  description: string;
  tags: Record<string, string>;
  aliases: string[];
  creationTimestamp: number;
}

/** A parsed `models:/<name>@<alias>` or `models:/<name>/<version>` reference. */
export interface ModelRef {
  uri: string;
  name: string;
  alias?: string;
  version?: string;
}

// ---------------------------------------------------------------------------------------------------
// Wire shapes: what the server sends (snake_case; empty lists are left out of the JSON).

interface WireKV {
  key: string;
  value?: string;
}
interface WireExperiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  tags?: WireKV[];
}
interface WireRunInfo {
  run_id: string;
  experiment_id: string;
  run_name?: string;
  status?: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage?: string;
}
/** Metric values come back as numbers, or as the strings "NaN" / "Infinity" protobuf JSON uses. */
interface WireMetric {
  key: string;
  value?: number | string;
  timestamp?: number;
  step?: number;
}
interface WireRun {
  info: WireRunInfo;
  data?: { params?: WireKV[]; metrics?: WireMetric[]; tags?: WireKV[] };
}
interface WireFileInfo {
  path: string;
  is_dir?: boolean;
  file_size?: number | string;
}
interface WireRegisteredModel {
  name: string;
  description?: string;
  aliases?: { alias: string; version: string }[];
  tags?: WireKV[];
}
interface WireModelVersion {
  name: string;
  version: string;
  source?: string;
  run_id?: string;
  status?: string;
  description?: string;
  tags?: WireKV[];
  aliases?: string[];
  creation_timestamp?: number;
}

const kv = (list: WireKV[] | undefined): Record<string, string> =>
  Object.fromEntries((list ?? []).map((t) => [t.key, t.value ?? ""]));

const toPairs = (rec: Record<string, ParamValue> | undefined) =>
  Object.entries(rec ?? {}).map(([key, value]) => ({ key, value: String(value) }));

const metricValue = (v: number | string | undefined) => (typeof v === "string" ? Number(v) : (v ?? 0));

const toExperiment = (e: WireExperiment): Experiment => ({
  experimentId: e.experiment_id,
  name: e.name,
  artifactLocation: e.artifact_location ?? "",
  lifecycleStage: e.lifecycle_stage ?? "active",
  tags: kv(e.tags),
});

const toRunInfo = (i: WireRunInfo): RunInfo => ({
  runId: i.run_id,
  experimentId: i.experiment_id,
  runName: i.run_name ?? "",
  status: i.status ?? "RUNNING",
  startTime: i.start_time ?? 0,
  ...(i.end_time !== undefined ? { endTime: i.end_time } : {}),
  artifactUri: i.artifact_uri ?? "",
  lifecycleStage: i.lifecycle_stage ?? "active",
});

const toRun = (r: WireRun): Run => ({
  info: toRunInfo(r.info),
  params: kv(r.data?.params),
  metrics: Object.fromEntries((r.data?.metrics ?? []).map((m) => [m.key, metricValue(m.value)])),
  tags: kv(r.data?.tags),
});

const toMetric = (m: WireMetric): Metric => ({
  key: m.key,
  value: metricValue(m.value),
  timestamp: m.timestamp ?? 0,
  step: m.step ?? 0,
});

const toRegisteredModel = (m: WireRegisteredModel): RegisteredModel => ({
  name: m.name,
  description: m.description ?? "",
  aliases: Object.fromEntries((m.aliases ?? []).map((a) => [a.alias, a.version])),
  tags: kv(m.tags),
});

const toModelVersion = (v: WireModelVersion): ModelVersion => ({
  name: v.name,
  version: v.version,
  source: v.source ?? "",
  ...(v.run_id ? { runId: v.run_id } : {}),
  status: v.status ?? "",
  description: v.description ?? "",
  tags: kv(v.tags),
  aliases: v.aliases ?? [],
  creationTimestamp: v.creation_timestamp ?? 0,
});

// ---------------------------------------------------------------------------------------------------
// Model references and artifact paths.

const USAGE_MODEL_URI =
  'expected models:/<name>@<alias> or models:/<name>/<version> (registry stages and "latest" are not supported)';

/**
 * Parses `models:/<name>@<alias>` and `models:/<name>/<version>`. Registered model names cannot hold
 * `/` or `:` and aliases are letters, digits, `_` and `-` (server rules), so the split is unambiguous.
 */
export function parseModelUri(uri: string): ModelRef {
  const byVersion = /^models:\/([^/:]+)\/([1-9][0-9]*)$/.exec(uri);
  if (byVersion) return { uri, name: byVersion[1] as string, version: byVersion[2] as string };
  const byAlias = /^models:\/([^/:]+)@([A-Za-z0-9_-]+)$/.exec(uri);
  if (byAlias) return { uri, name: byAlias[1] as string, alias: byAlias[2] as string };
  throw new InputError(uri, USAGE_MODEL_URI);
}

export const modelUri = (name: string, aliasOrVersion: { alias: string } | { version: string | number }) =>
  "alias" in aliasOrVersion ? `models:/${name}@${aliasOrVersion.alias}` : `models:/${name}/${aliasOrVersion.version}`;

/**
 * Checks one artifact path and returns its segments. The server decodes `%` escapes repeatedly and
 * refuses `#`, so names holding them would be stored under another name or refused half-way through an
 * upload: they are refused up front instead.
 */
function pathSegments(path: string, where: string): string[] {
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  for (const s of segments) {
    if (s === ".." || /[#%\\\u0000-\u001f]/.test(s)) {
      throw new InputError(
        where,
        `artifact path "${path}" has a name MLflow cannot store ("..", "#", "%", "\\" or a control character)`,
      );
    }
  }
  return segments;
}

const joinPath = (...parts: string[]) => parts.filter((p) => p !== "").join("/");

/** Path of an artifact URI below the served-artifacts root, or undefined for a store we cannot reach. */
function servedPath(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined; // not a URI at all: the caller reports it as unsupported
  }
  let path: string;
  if (url.protocol === "mlflow-artifacts:") {
    path = url.pathname;
  } else if (url.protocol === "http:" || url.protocol === "https:") {
    const marker = "/api/2.0/mlflow-artifacts/artifacts";
    const at = url.pathname.indexOf(marker);
    if (at < 0) return undefined;
    path = url.pathname.slice(at + marker.length);
  } else {
    return undefined;
  }
  try {
    return path
      .split("/")
      .filter((s) => s !== "")
      .map((s) => decodeURIComponent(s))
      .join("/");
  } catch {
    return undefined; // a malformed % escape: not a path the proxy could serve either
  }
}

const encodePath = (path: string) => path.split("/").map(encodeURIComponent).join("/");

/** Every file below `dir`, relative with `/` separators, sorted so uploads happen in a stable order. */
async function listLocalFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string) => {
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(current, code === "ENOENT" ? "folder not found" : `cannot read folder (${code ?? err})`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = join(current, entry.name);
      // Symlinks are followed, as a copy would: the server stores bytes, not links.
      const kind = entry.isSymbolicLink() ? await stat(full) : entry;
      if (kind.isDirectory()) await walk(full);
      else if (kind.isFile()) out.push(relative(dir, full).split(sep).join("/"));
      else throw new InputError(full, "not a regular file or folder, cannot upload it");
    }
  };
  await walk(dir);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Transport.

/** Errors raised before a connection exists: the server never saw the request, so any call may retry. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"]);

/**
 * The code of a fetch or socket failure (fetch wraps it in `cause`, sometimes in an AggregateError),
 * or undefined if `err` is not one.
 */
function transportCode(err: unknown): string | undefined {
  const e = err as { name?: string; code?: unknown; cause?: unknown; errors?: unknown[] } | undefined;
  if (!e || typeof e !== "object") return undefined;
  if (e.name === "TimeoutError") return "TIMEOUT";
  let cur: (typeof e & { message?: string }) | undefined = e;
  let deepest: string | undefined;
  for (let depth = 0; cur && depth < 5; depth++) {
    if (typeof cur.code === "string") return cur.code;
    if (depth > 0 && cur.message) deepest = cur.message;
    cur = (cur.cause ?? cur.errors?.[0]) as typeof cur;
  }
  // fetch rejects with a "fetch failed" TypeError whose cause says why; without a code, its words do.
  return e.name === "TypeError" && e.cause !== undefined ? (deepest ?? "fetch failed") : undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const oneLine = (text: string, max = 300) => {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
};

async function readJson<T>(res: Response, endpoint: string, context: string): Promise<T> {
  const text = await res.text();
  try {
    return (text.trim() === "" ? {} : JSON.parse(text)) as T;
  } catch {
    const problem = `MLflow ${endpoint} answered with something other than JSON: ${oneLine(text, 120)}`;
    throw new MlflowError(context, problem, "BAD_RESPONSE", res.status);
  }
}

interface Call<T> {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Below the tracking URI, e.g. `/api/2.0/mlflow/runs/get`. */
  path: string;
  query?: Record<string, string>;
  json?: unknown;
  body?: Uint8Array;
  /** The file part of errors: the MLflow URI the call is about. */
  context: string;
  /** Safe to repeat after the server may have seen it: retried on 5xx and lost connections too. */
  idempotent: boolean;
  timeoutMs?: number;
  /** Reads the answer; transport errors while reading are retried like the request itself. */
  read: (res: Response) => Promise<T>;
}

const API = "/api/2.0/mlflow";
const ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts";

export class MlflowClient {
  /** Without a trailing slash. */
  readonly trackingUri: string;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly transferTimeoutMs: number;

  constructor(trackingUri: string, options: MlflowClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(trackingUri);
    } catch {
      throw new InputError(trackingUri, "not a valid MLflow tracking URI, expected http(s)://host:port");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new InputError(trackingUri, "only http(s) tracking URIs are supported (tasks reach MLflow through its server)");
    }
    if (url.username || url.password) {
      // fetch refuses such URLs, and every error line would print the password.
      throw new InputError(`${url.protocol}//${url.host}`, "credentials in the tracking URI are not supported");
    }
    this.trackingUri = trackingUri.replace(/\/+$/, "");
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.backoffMs = options.backoffMs ?? 250;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.transferTimeoutMs = options.transferTimeoutMs ?? 600_000;
  }

  /** A client for `MLFLOW_TRACKING_URI`, the variable every MLflow client reads. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, options?: MlflowClientOptions): MlflowClient {
    const uri = env.MLFLOW_TRACKING_URI?.trim();
    if (!uri) throw new InputError("MLFLOW_TRACKING_URI", "not set, expected the MLflow server URL (e.g. http://mlflow:5000)");
    return new MlflowClient(uri, options);
  }

  private async call<T>(c: Call<T>): Promise<T> {
    const url = new URL(this.trackingUri + c.path);
    for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v);
    const endpoint = c.path.startsWith(ARTIFACTS) ? "mlflow-artifacts" : c.path.replace(`${API}/`, "").replace(/^\//, "");
    const timeoutMs = c.timeoutMs ?? this.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.attempts;
      const backoff = () => sleep(this.backoffMs * 2 ** (attempt - 1));
      try {
        const type = c.json !== undefined ? "application/json" : c.body ? "application/octet-stream" : undefined;
        const res = await fetch(url, {
          method: c.method,
          headers: type ? { "Content-Type": type } : {},
          body: c.json !== undefined ? JSON.stringify(c.json) : c.body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!res.ok) {
          const retriable = res.status === 429 || res.status === 503 || (c.idempotent && res.status >= 500);
          const error = await this.httpError(res, endpoint, c.context);
          if (retriable && !last) {
            await backoff();
            continue;
          }
          throw error;
        }
        return await c.read(res);
      } catch (err) {
        if (err instanceof InputError) throw err;
        const code = transportCode(err);
        if (code === undefined) throw err; // a bug, not the network: let it surface as is
        if (!last && (c.idempotent || NOT_SENT.has(code))) {
          await backoff();
          continue;
        }
        const problem =
          code === "TIMEOUT"
            ? `MLflow at ${this.trackingUri} did not answer ${endpoint} within ${Math.round(timeoutMs / 1000)} s`
            : NOT_SENT.has(code)
              ? `MLflow unreachable at ${this.trackingUri} (${code})`
              : `connection to MLflow at ${this.trackingUri} failed during ${endpoint} (${code})`;
        throw new MlflowError(c.context, problem, code);
      }
    }
  }

  private async httpError(res: Response, endpoint: string, context: string): Promise<MlflowError> {
    const text = await res.text();
    let code = `HTTP_${res.status}`;
    let message = text;
    try {
      const body = JSON.parse(text) as { error_code?: string; message?: string };
      if (body.error_code) code = body.error_code;
      if (body.message) message = body.message;
    } catch {
      // Not JSON (a proxy's HTML page, a plain-text 404): the raw text is the best message there is.
    }
    const detail = oneLine(message);
    const named = code !== `HTTP_${res.status}` ? ` ${code}` : "";
    const problem = `MLflow ${endpoint} failed: HTTP ${res.status}${named}${detail ? `: ${detail}` : ""}`;
    return new MlflowError(context, problem, code, res.status);
  }

  private api<T>(
    method: "GET" | "POST" | "DELETE",
    endpoint: string,
    payload: Record<string, unknown>,
    context: string,
    idempotent: boolean,
  ): Promise<T> {
    const isGet = method === "GET";
    const query = isGet ? Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, String(v)])) : undefined;
    return this.call({
      method,
      path: `${API}/${endpoint}`,
      ...(query ? { query } : { json: payload }),
      context,
      idempotent,
      read: (res) => readJson<T>(res, endpoint, context),
    });
  }

  /** GET /health: resolves when the server answers, else raises the "unreachable" error. */
  async checkHealth(): Promise<void> {
    await this.call({ method: "GET", path: "/health", context: this.trackingUri, idempotent: true, read: (res) => res.text() });
  }

  // -- Experiments ------------------------------------------------------------------------------------

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      const r = await this.api<{ experiment: WireExperiment }>(
        "GET",
        "experiments/get-by-name",
        { experiment_name: name },
        this.trackingUri,
        true,
      );
      return toExperiment(r.experiment);
    } catch (err) {
      if (err instanceof MlflowError && err.code === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw err;
    }
  }

  /** The experiment of that name, created if missing (a concurrent creation by another task is fine). */
  async getOrCreateExperiment(name: string, tags: Record<string, string> = {}): Promise<Experiment> {
    const found = await this.getExperimentByName(name);
    if (!found) {
      try {
        await this.api("POST", "experiments/create", { name, tags: toPairs(tags) }, this.trackingUri, false);
      } catch (err) {
        if (!(err instanceof MlflowError && err.code === "RESOURCE_ALREADY_EXISTS")) throw err;
      }
      const created = await this.getExperimentByName(name);
      if (!created) throw new InputError(this.trackingUri, `experiment "${name}" was created but cannot be found`);
      return created;
    }
    if (found.lifecycleStage !== "active") {
      // A deleted experiment still owns its name; reviving it silently would resurrect old runs.
      throw new InputError(this.trackingUri, `experiment "${name}" is deleted; restore it in MLflow or use another name`);
    }
    return found;
  }

  // -- Runs -------------------------------------------------------------------------------------------

  async createRun(
    experimentId: string,
    options: { name?: string; tags?: Record<string, string>; startTime?: number } = {},
  ): Promise<Run> {
    const r = await this.api<{ run: WireRun }>(
      "POST",
      "runs/create",
      {
        experiment_id: experimentId,
        ...(options.name ? { run_name: options.name } : {}),
        start_time: options.startTime ?? Date.now(),
        tags: toPairs(options.tags),
      },
      this.trackingUri,
      false,
    );
    return toRun(r.run);
  }

  async getRun(runId: string): Promise<Run> {
    const r = await this.api<{ run: WireRun }>("GET", "runs/get", { run_id: runId }, `runs:/${runId}`, true);
    return toRun(r.run);
  }

  /**
   * Logs params, metrics and tags, split into as many log-batch requests as the server's limits need
   * (counts per kind, total count, request size). Params are write-once on the server: logging the same
   * value again is fine, another value fails. Requests are sent in order, so one metric's steps keep
   * their order.
   */
  async logBatch(runId: string, input: LogBatchInput): Promise<void> {
    const now = Date.now();
    type Item = { kind: "params" | "tags" | "metrics"; value: unknown; bytes: number };
    const items: Item[] = [];
    const push = (kind: Item["kind"], value: unknown) =>
      items.push({ kind, value, bytes: Buffer.byteLength(JSON.stringify(value)) + 1 });
    for (const p of toPairs(input.params)) push("params", p);
    for (const t of toPairs(input.tags)) push("tags", t);
    for (const m of input.metrics ?? []) {
      // JSON has no NaN or Infinity; protobuf's JSON mapping takes them as strings.
      const value = Number.isFinite(m.value) ? m.value : String(m.value);
      push("metrics", { key: m.key, value, timestamp: Math.round(m.timestamp ?? now), step: Math.round(m.step ?? 0) });
    }
    const base = Buffer.byteLength(JSON.stringify({ run_id: runId, params: [], tags: [], metrics: [] }));
    let batch = { params: [] as unknown[], tags: [] as unknown[], metrics: [] as unknown[] };
    let count = 0;
    let bytes = base;
    const flush = async () => {
      if (count === 0) return;
      await this.api("POST", "runs/log-batch", { run_id: runId, ...batch }, `runs:/${runId}`, true);
      batch = { params: [], tags: [], metrics: [] };
      count = 0;
      bytes = base;
    };
    for (const item of items) {
      if (base + item.bytes > LOG_BATCH_LIMITS.bytes) {
        const key = (item.value as { key: string }).key;
        throw new InputError(`runs:/${runId}`, `${item.kind.slice(0, -1)} "${key}" is too large for one log-batch request`);
      }
      const full =
        batch[item.kind].length >= LOG_BATCH_LIMITS[item.kind] ||
        count >= LOG_BATCH_LIMITS.total ||
        bytes + item.bytes > LOG_BATCH_LIMITS.bytes;
      if (full) await flush();
      batch[item.kind].push(item.value);
      count++;
      bytes += item.bytes;
    }
    await flush();
  }

  logParams(runId: string, params: Record<string, ParamValue>): Promise<void> {
    return this.logBatch(runId, { params });
  }

  /** Logs several metrics at one step, e.g. `logMetrics(id, { loss, accuracy }, { step: epoch })`. */
  logMetrics(runId: string, metrics: Record<string, number>, at: { step?: number; timestamp?: number } = {}): Promise<void> {
    return this.logBatch(runId, { metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, ...at })) });
  }

  setTags(runId: string, tags: Record<string, string>): Promise<void> {
    return this.logBatch(runId, { tags });
  }

  /** Every logged point of one metric, in the server's order (by step, then time). */
  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    const out: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.api<{ metrics?: WireMetric[]; next_page_token?: string }>(
        "GET",
        "metrics/get-history",
        { run_id: runId, metric_key: key, ...(pageToken ? { page_token: pageToken } : {}) },
        `runs:/${runId}`,
        true,
      );
      out.push(...(r.metrics ?? []).map(toMetric));
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  /** Ends a run: FINISHED after success, FAILED after an error (KILLED for a cancelled task). */
  async finishRun(runId: string, status: "FINISHED" | "FAILED" | "KILLED" = "FINISHED", endTime = Date.now()): Promise<RunInfo> {
    const r = await this.api<{ run_info: WireRunInfo }>(
      "POST",
      "runs/update",
      { run_id: runId, status, end_time: endTime },
      `runs:/${runId}`,
      true,
    );
    return toRunInfo(r.run_info);
  }

  // -- Artifacts (through the tracking server's served-artifacts proxy) --------------------------------

  /** The served path of a run's artifact folder, e.g. `1/<run_id>/artifacts`. */
  private async runArtifactRoot(runId: string): Promise<{ run: Run; root: string }> {
    const run = await this.getRun(runId);
    const root = servedPath(run.info.artifactUri);
    if (root === undefined) {
      throw new InputError(
        `runs:/${runId}`,
        `artifacts are stored at ${run.info.artifactUri}, not behind the tracking server; start it with --serve-artifacts`,
      );
    }
    return { run, root };
  }

  /**
   * Uploads every file below `localDir` (recursively) to `artifactPath` of the run, keeping the
   * relative layout. Returns the uploaded paths relative to `localDir`. Empty folders are not kept:
   * the artifact store only holds files.
   */
  async uploadArtifacts(runId: string, localDir: string, artifactPath = ""): Promise<string[]> {
    const context = `runs:/${joinPath(runId, artifactPath)}`;
    const base = pathSegments(artifactPath, context);
    const files = await listLocalFiles(localDir);
    if (files.length === 0) throw new InputError(localDir, "folder has no files to upload");
    for (const file of files) pathSegments(file, join(localDir, file));
    const { root } = await this.runArtifactRoot(runId);
    for (const file of files) {
      const local = join(localDir, file);
      let data: Buffer;
      try {
        // Whole-file bodies carry a Content-Length and can be re-sent on retry; model files are small.
        data = await readFile(local);
      } catch (err) {
        throw new InputError(local, `cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
      }
      await this.call({
        method: "PUT",
        path: `${ARTIFACTS}/${encodePath(joinPath(root, ...base, file))}`,
        body: data,
        context: `runs:/${joinPath(runId, ...base, file)}`,
        idempotent: true,
        timeoutMs: this.transferTimeoutMs,
        read: (res) => res.text(),
      });
    }
    return files;
  }

  /** Lists a served folder; `recursive` descends into sub-folders and returns files only. */
  private async listServed(path: string, context: string, recursive: boolean): Promise<ArtifactFile[]> {
    const r = await this.call({
      method: "GET",
      path: ARTIFACTS,
      query: { path },
      context,
      idempotent: true,
      read: (res) => readJson<{ files?: WireFileInfo[] }>(res, "mlflow-artifacts", context),
    });
    const out: ArtifactFile[] = [];
    for (const f of r.files ?? []) {
      // The server returns base names; anything else would let a listing write outside the target folder.
      if (f.path === "" || f.path === "." || f.path === ".." || f.path.includes("/") || f.path.includes("\\")) {
        throw new InputError(context, `server listed an unexpected artifact name "${f.path}"`);
      }
      if (f.is_dir) {
        if (!recursive) out.push({ path: f.path, isDir: true });
        else {
          const below = await this.listServed(joinPath(path, f.path), context, true);
          out.push(...below.map((sub) => ({ ...sub, path: `${f.path}/${sub.path}` })));
        }
      } else {
        out.push({ path: f.path, isDir: false, ...(f.file_size !== undefined ? { size: Number(f.file_size) } : { size: 0 }) });
      }
    }
    return out;
  }

  /** Lists `artifactPath` of a run (its root by default); paths are relative to `artifactPath`. */
  async listArtifacts(runId: string, artifactPath = "", options: { recursive?: boolean } = {}): Promise<ArtifactFile[]> {
    const context = `runs:/${joinPath(runId, artifactPath)}`;
    const segments = pathSegments(artifactPath, context);
    const { root } = await this.runArtifactRoot(runId);
    return this.listServed(joinPath(root, ...segments), context, options.recursive ?? false);
  }

  /** Downloads the folder `artifactPath` of a run into `localDir` (replaced as a whole). */
  async downloadArtifacts(runId: string, artifactPath: string, localDir: string): Promise<string[]> {
    const context = `runs:/${joinPath(runId, artifactPath)}`;
    const segments = pathSegments(artifactPath, context);
    const { root } = await this.runArtifactRoot(runId);
    return this.downloadServed(joinPath(root, ...segments), localDir, context);
  }

  /**
   * Downloads a served folder into `localDir`. The folder is filled in a hidden sibling and swapped in
   * at the end, so a failure leaves the previous content (or nothing), never a half-downloaded model.
   */
  private async downloadServed(path: string, localDir: string, context: string): Promise<string[]> {
    const files = (await this.listServed(path, context, true)).map((f) => f.path);
    // Missing folders and single files both list as empty: either way there is no folder to download.
    if (files.length === 0) throw new InputError(context, "no artifacts found at this path");
    await replaceDirAtomic(localDir, async (tmp) => {
      for (const file of files) {
        const dest = join(tmp, ...file.split("/"));
        try {
          await mkdir(dirname(dest), { recursive: true });
        } catch (err) {
          throw new InputError(dirname(dest), `cannot create folder (${(err as NodeJS.ErrnoException).code ?? err})`);
        }
        await this.call({
          method: "GET",
          path: `${ARTIFACTS}/${encodePath(joinPath(path, file))}`,
          context,
          idempotent: true,
          timeoutMs: this.transferTimeoutMs,
          read: async (res) => {
            if (!res.body) throw new MlflowError(context, `MLflow sent no content for ${file}`, "BAD_RESPONSE", res.status);
            const out = createWriteStream(dest);
            try {
              await pipeline(Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>), out);
            } catch (err) {
              // A failing disk is the user's to fix and not worth a retry; a dropped connection is retried.
              const failed = out.errored as NodeJS.ErrnoException | null;
              if (failed) throw new InputError(join(localDir, file), `cannot write (${failed.code ?? failed.message})`);
              throw err;
            }
          },
        });
      }
    });
    return files;
  }

  /**
   * Downloads the folder an artifact URI names: `mlflow-artifacts:/…`, the same as an http(s)
   * served-artifacts URL, `runs:/<run_id>/<path>`, or `models:/<name>/<version>` (what the registry
   * returns as a model version's download URI).
   */
  async downloadArtifactUri(uri: string, localDir: string, context = uri): Promise<string[]> {
    for (let hops = 0; hops < 5; hops++) {
      const served = servedPath(uri);
      if (served !== undefined) return this.downloadServed(served, localDir, context);
      const runs = /^runs:\/([^/]+)(?:\/(.*))?$/.exec(uri);
      if (runs) {
        const { root } = await this.runArtifactRoot(runs[1] as string);
        return this.downloadServed(joinPath(root, ...pathSegments(runs[2] ?? "", context)), localDir, context);
      }
      if (uri.startsWith("models:/")) {
        const ref = parseModelUri(uri);
        const version = ref.version ?? (await this.getModelVersionByAlias(ref.name, ref.alias as string)).version;
        uri = await this.getModelVersionDownloadUri(ref.name, version);
        continue;
      }
      break;
    }
    throw new InputError(context, `artifacts at ${uri} are not served by the tracking server, cannot download them`);
  }

  // -- Model registry (aliases; stages are deprecated in MLflow 3 and never used here) ----------------

  async getRegisteredModel(name: string): Promise<RegisteredModel | undefined> {
    try {
      const r = await this.api<{ registered_model: WireRegisteredModel }>(
        "GET",
        "registered-models/get",
        { name },
        `models:/${name}`,
        true,
      );
      return toRegisteredModel(r.registered_model);
    } catch (err) {
      if (err instanceof MlflowError && err.code === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw err;
    }
  }

  /** The registered model of that name, created if missing (a concurrent creation is fine). */
  async createRegisteredModelIfMissing(
    name: string,
    options: { description?: string; tags?: Record<string, string> } = {},
  ): Promise<RegisteredModel> {
    const found = await this.getRegisteredModel(name);
    if (found) return found;
    try {
      const r = await this.api<{ registered_model: WireRegisteredModel }>(
        "POST",
        "registered-models/create",
        { name, tags: toPairs(options.tags), ...(options.description ? { description: options.description } : {}) },
        `models:/${name}`,
        false,
      );
      return toRegisteredModel(r.registered_model);
    } catch (err) {
      if (!(err instanceof MlflowError && err.code === "RESOURCE_ALREADY_EXISTS")) throw err;
      const raced = await this.getRegisteredModel(name);
      if (!raced) throw err;
      return raced;
    }
  }

  /**
   * Registers the folder `artifactPath` of a run as a new version of `name`. Like MLflow's own
   * `register_model("runs:/…")`, the stored source is the run's served-artifacts URI
   * (`mlflow-artifacts:/<exp>/<run_id>/artifacts/<path>`) with `run_id` for lineage, so the version's
   * download URI points straight at the files. The folder must already hold files.
   */
  async createModelVersion(
    name: string,
    runId: string,
    artifactPath: string,
    options: { tags?: Record<string, string>; description?: string } = {},
  ): Promise<ModelVersion> {
    const runUri = `runs:/${joinPath(runId, artifactPath)}`;
    const segments = pathSegments(artifactPath, runUri);
    if (segments.length === 0) {
      throw new InputError(runUri, "a model version needs an artifact folder, not the run's whole artifact root");
    }
    const { run, root } = await this.runArtifactRoot(runId);
    const present = await this.listServed(joinPath(root, ...segments), runUri, false);
    if (present.length === 0) {
      throw new InputError(runUri, "no artifacts at this path; upload the model folder before registering it");
    }
    const r = await this.api<{ model_version: WireModelVersion }>(
      "POST",
      "model-versions/create",
      {
        name,
        source: joinPath(run.info.artifactUri.replace(/\/+$/, ""), ...segments),
        run_id: runId,
        tags: toPairs(options.tags),
        ...(options.description ? { description: options.description } : {}),
      },
      `models:/${name}`,
      false,
    );
    return toModelVersion(r.model_version);
  }

  async getModelVersion(name: string, version: string | number): Promise<ModelVersion> {
    const r = await this.api<{ model_version: WireModelVersion }>(
      "GET",
      "model-versions/get",
      { name, version: String(version) },
      modelUri(name, { version }),
      true,
    );
    return toModelVersion(r.model_version);
  }

  async setModelVersionTag(name: string, version: string | number, key: string, value: string): Promise<void> {
    const payload = { name, version: String(version), key, value };
    await this.api("POST", "model-versions/set-tag", payload, modelUri(name, { version }), true);
  }

  /** What the registry says to download for a version (for versions made here: an `mlflow-artifacts:/` URI). */
  async getModelVersionDownloadUri(name: string, version: string | number): Promise<string> {
    const r = await this.api<{ artifact_uri: string }>(
      "GET",
      "model-versions/get-download-uri",
      { name, version: String(version) },
      modelUri(name, { version }),
      true,
    );
    return r.artifact_uri;
  }

  /** Points `alias` at `version`, moving it off whichever version held it. */
  async setAlias(name: string, alias: string, version: string | number): Promise<void> {
    await this.api("POST", "registered-models/alias", { name, alias, version: String(version) }, modelUri(name, { alias }), true);
  }

  /** Removes an alias; removing one that does not exist is not an error (the server treats it so). */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.api("DELETE", "registered-models/alias", { name, alias }, modelUri(name, { alias }), true);
  }

  /** The version `alias` points at; a missing alias or model is an `InputError` naming `models:/<name>@<alias>`. */
  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    const uri = modelUri(name, { alias });
    try {
      const r = await this.api<{ model_version: WireModelVersion }>("GET", "registered-models/alias", { name, alias }, uri, true);
      return toModelVersion(r.model_version);
    } catch (err) {
      if (!(err instanceof MlflowError && (err.status === 400 || err.status === 404))) throw err;
      // The server's answers for "no such model" and "no such alias" differ only in wording, so ask
      // the model itself rather than parsing messages.
      const model = await this.getRegisteredModel(name);
      if (!model) throw new MlflowError(uri, `registered model "${name}" does not exist`, "RESOURCE_DOES_NOT_EXIST", err.status);
      if (!(alias in model.aliases)) {
        throw new MlflowError(uri, `no version has alias "${alias}"`, "RESOURCE_DOES_NOT_EXIST", err.status);
      }
      throw err;
    }
  }

  /** The version a `models:/<name>@<alias>` or `models:/<name>/<version>` reference names. */
  async resolveModel(ref: string | ModelRef): Promise<ModelVersion> {
    const parsed = typeof ref === "string" ? parseModelUri(ref) : ref;
    return parsed.alias !== undefined
      ? this.getModelVersionByAlias(parsed.name, parsed.alias)
      : this.getModelVersion(parsed.name, parsed.version as string);
  }

  /**
   * Downloads the files of the version a `models:/` reference names into `localDir` (replaced as a
   * whole). The version is resolved once, so the files and the returned version always match even if
   * the alias moves meanwhile.
   */
  async downloadModel(ref: string, localDir: string): Promise<{ version: ModelVersion; files: string[] }> {
    const parsed = parseModelUri(ref);
    const version = await this.resolveModel(parsed);
    const uri = await this.getModelVersionDownloadUri(version.name, version.version);
    const files = await this.downloadArtifactUri(uri, localDir, parsed.uri);
    return { version, files };
  }
}
