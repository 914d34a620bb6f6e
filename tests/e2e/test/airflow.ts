// The few Airflow 3 REST API calls the end-to-end test needs.

export interface DagRun {
  dag_run_id: string;
  dag_id: string;
  logical_date: string | null;
  /** "scheduled", "manual", "asset_triggered", "backfill". */
  run_type: string;
  state: string;
}

export interface TaskInstance {
  task_id: string;
  state: string | null;
  try_number: number;
  /** The host that ran the try: a Celery worker's container, or the scheduler's. */
  hostname: string | null;
}

export class Airflow {
  private token = "";

  constructor(
    readonly url: string,
    private readonly user: string,
    private readonly password: string,
  ) {}

  async login(): Promise<void> {
    const res = await fetch(`${this.url}/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: this.user, password: this.password }),
    });
    if (!res.ok) throw new Error(`login failed: HTTP ${res.status} ${await res.text()}`);
    this.token = ((await res.json()) as { access_token: string }).access_token;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/api/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    // DELETE answers 204 with no body.
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** The ids of every DAG Airflow knows from the DAG folder (stale ones, whose file went, excluded), by id. */
  async dagIds(): Promise<string[]> {
    const ids: string[] = [];
    for (let total = Infinity; ids.length < total; ) {
      const r = await this.call<{ dags: { dag_id: string }[]; total_entries: number }>(
        "GET",
        `/dags?limit=100&offset=${ids.length}&exclude_stale=true&order_by=dag_id`,
      );
      if (r.dags.length === 0) break;
      ids.push(...r.dags.map((d) => d.dag_id));
      total = r.total_entries;
    }
    return ids;
  }

  async dagRuns(dagId: string): Promise<DagRun[]> {
    const r = await this.call<{ dag_runs: DagRun[] }>("GET", `/dags/${dagId}/dagRuns?limit=100&order_by=logical_date`);
    return r.dag_runs;
  }

  async taskInstances(dagId: string, runId: string): Promise<TaskInstance[]> {
    const r = await this.call<{ task_instances: TaskInstance[] }>(
      "GET",
      `/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}/taskInstances`,
    );
    return r.task_instances;
  }

  async triggerRun(dagId: string, logicalDate: string, conf: Record<string, unknown> = {}): Promise<DagRun> {
    return this.call<DagRun>("POST", `/dags/${dagId}/dagRuns`, {
      dag_run_id: `e2e__${logicalDate}__${Date.now()}`,
      logical_date: logicalDate,
      conf,
    });
  }

  /** Polls until `done` says yes, the deadline passes (then throws with the last state seen), or a run fails. */
  async waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const got = await probe();
        if (got !== undefined) return got;
      } catch (err) {
        last = err;
        if ((err as Error).name === "RunFailed") throw err;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
      if ((await this.loginIfExpired()) === false) await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  private loggedInAt = Date.now();

  private async loginIfExpired(): Promise<boolean> {
    // Tokens live for a while; a long wait renews it rather than failing on a 401 half-way.
    if (Date.now() - this.loggedInAt < 10 * 60_000) return false;
    await this.login();
    this.loggedInAt = Date.now();
    return false;
  }
}
