/**
 * The transport of the MLflow client: one HTTP call with its time limit, retries and error reporting, and the
 * base class every other part of the client (runs.ts, artifacts.ts, registry.ts) builds on.
 *
 * Every failure the user can act on is an `InputError` (a `MlflowError`): its file part names the MLflow URI
 * concerned (`models:/<name>@<alias>`, `runs:/<run_id>/<path>`) or the tracking URI, and its problem is one
 * line. Connection errors and 5xx answers are retried a few times with a short backoff.
 */
import { InputError } from "../errors.ts";

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

// ---------------------------------------------------------------------------------------------------
// Wire helpers shared by the parts of the client: the server sends snake_case and leaves empty lists out.

export interface WireKV {
  key: string;
  value?: string;
}

export const kv = (list: WireKV[] | undefined): Record<string, string> =>
  Object.fromEntries((list ?? []).map((t) => [t.key, t.value ?? ""]));

export const toPairs = (rec: Record<string, string | number | boolean> | undefined) =>
  Object.entries(rec ?? {}).map(([key, value]) => ({ key, value: String(value) }));

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

export async function readJson<T>(res: Response, endpoint: string, context: string): Promise<T> {
  const text = await res.text();
  try {
    return (text.trim() === "" ? {} : JSON.parse(text)) as T;
  } catch {
    const problem = `MLflow ${endpoint} answered with something other than JSON: ${oneLine(text, 120)}`;
    throw new MlflowError(context, problem, "BAD_RESPONSE", res.status);
  }
}

export interface Call<T> {
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

export const API = "/api/2.0/mlflow";
export const ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts";

/** The tracking server as HTTP: what every part of `MlflowClient` calls it through. */
export class MlflowHttp {
  /** Without a trailing slash. */
  readonly trackingUri: string;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  protected readonly transferTimeoutMs: number;

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

  protected async call<T>(c: Call<T>): Promise<T> {
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

  /** One call of the REST API below `/api/2.0/mlflow/`: GET sends `payload` as the query, others as JSON. */
  protected api<T>(
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
}
