/**
 * Experiments and runs: create and read them, log params, metrics and tags in batches within the server's
 * limits, log the datasets a run used, and finish the run.
 */
import { InputError } from "../errors.ts";
import { kv, MlflowError, MlflowHttp, toPairs, type WireKV } from "./client.ts";
import { toDatasetInput, toWireDatasetInput, trainingDataset, type DatasetInput, type WireDatasetInput } from "./datasets.ts";

/** The server's log-batch limits (mlflow/utils/validation.py, same in the REST API reference). */
export const LOG_BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000, bytes: 1_000_000 } as const;

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
  /** The datasets logged as the run's inputs (`logInputs`). */
  datasets: DatasetInput[];
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

// ---------------------------------------------------------------------------------------------------
// Wire shapes: what the server sends (snake_case; empty lists are left out of the JSON).

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
  inputs?: { dataset_inputs?: WireDatasetInput[] };
}

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
  datasets: (r.inputs?.dataset_inputs ?? []).map(toDatasetInput),
});

const toMetric = (m: WireMetric): Metric => ({
  key: m.key,
  value: metricValue(m.value),
  timestamp: m.timestamp ?? 0,
  step: m.step ?? 0,
});

/** The experiments and runs part of `MlflowClient`. */
export class MlflowRuns extends MlflowHttp {
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
   * The active runs of the experiments that `filter` (MLflow's search grammar, see search.ts) selects, every
   * page of them, in the server's order (newest start first).
   */
  async searchRuns(experimentIds: string[], filter: string): Promise<Run[]> {
    const out: Run[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.api<{ runs?: WireRun[]; next_page_token?: string }>(
        "POST",
        "runs/search",
        {
          experiment_ids: experimentIds,
          filter,
          run_view_type: "ACTIVE_ONLY",
          max_results: 1000,
          ...(pageToken ? { page_token: pageToken } : {}),
        },
        this.trackingUri,
        true,
      );
      out.push(...(r.runs ?? []).map(toRun));
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return out;
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

  /**
   * Logs datasets as inputs of a running run. The server keeps one dataset per name and digest in the
   * experiment and one input per dataset and run, so logging the same again changes nothing (and may retry).
   */
  async logInputs(runId: string, datasets: DatasetInput[]): Promise<void> {
    if (datasets.length === 0) return;
    const payload = { run_id: runId, datasets: datasets.map(toWireDatasetInput) };
    await this.api("POST", "runs/log-inputs", payload, `runs:/${runId}`, true);
  }

  /**
   * Logs the file a run trained on as its `training` dataset input (`trainingDataset`: named `train-{ds}`,
   * the contract's columns, the row count, the sha256 as digest).
   */
  logTrainingData(runId: string, data: { ds: string; path: string; sha256: string; rows: number }): Promise<void> {
    return this.logInputs(runId, [trainingDataset(data)]);
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
}
