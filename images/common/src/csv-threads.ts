/**
 * The fast path on worker threads, for a large file: its rows are cut into segments of a few megabytes at line
 * breaks, the workers read them (each every `threads`-th segment, with csv-rows.ts's scanRows), and this thread
 * puts their rows back in file order, into batches of exactly the rows a single-threaded read gives. A worker
 * only reads what the fast path reads; at anything else it stops, and the caller reads the file again on one
 * thread past the batches already given, so that every message, row number and batch is the single-threaded
 * one. A quoted field may hold line breaks, so a segment may start inside one: the segment holding its opening
 * quote stops first, and nothing after it is used.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { TARGET } from "./contract.ts";
import { InputError } from "./errors.ts";
import { scanRows, type Rows } from "./csv-rows.ts";
import type { ScannedBatch } from "./csv-scan.ts";

export interface Threading {
  /** Threads reading a file; 1 reads on this thread. */
  threads: number;
  /** Files smaller than this are read on this thread: starting the workers costs more than they save. */
  minBytes: number;
  /** Bytes of a segment, which one worker reads in one go. */
  segmentBytes: number;
}

let override: Partial<Threading> = {};

/** Threaded reads that gave every row, and those that left the file to this thread: tests see which ran. */
export const threadStats = { complete: 0, stopped: 0 };

/** For tests: small files on several threads. */
export function setThreading(t: Partial<Threading>): void {
  override = t;
}

/**
 * AML_CSV_THREADS threads (at most the processors there are, and 4), else one: on the 2-core machines measured,
 * a 1M-row file read no faster on two (3.41 s against 3.22 s; predict 8.1 s against 7.3 s), the stage's own
 * work and the other tasks keeping the second core busy. A larger host may set it.
 */
export function threading(): Threading {
  const env = process.env.AML_CSV_THREADS;
  let threads = 1;
  if (env !== undefined && env !== "") {
    const asked = Number(env);
    if (!Number.isInteger(asked) || asked < 1) throw new InputError("AML_CSV_THREADS", `expected a whole number of at least 1, got "${env}"`);
    threads = Math.min(asked, availableParallelism(), 4);
  }
  return { threads, minBytes: 32 << 20, segmentBytes: 4 << 20, ...override };
}

/** Segments a worker may be ahead of the one this thread is merging: what bounds the memory of rows read early. */
const AHEAD_PER_THREAD = 2;
/** Rows per message from a worker. */
const CHUNK_ROWS = 8192;

interface Chunk {
  segment: number;
  ids?: string[];
  values?: Float64Array;
  target?: Uint8Array;
  n?: number;
  last?: boolean;
  stop?: boolean;
}

/**
 * What a worker runs: its segments, in order, each only once this thread is near enough to need it. Its
 * source runs in the worker, so it names nothing of this module: scanRows comes as an argument (a compiler
 * may well have renamed an import of it).
 */
function workerMain(scan: typeof scanRows): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { workerData, parentPort } = require("node:worker_threads");
  const fs = require("node:fs");
  const { path, width, hasTarget, dataStart, size, segmentBytes, first, step, count, shared, ahead, chunkRows } = workerData;
  const merged = new Int32Array(shared);
  const d = width - 1 - (hasTarget ? 1 : 0);
  const fd = fs.openSync(path, "r");
  let buf = Buffer.allocUnsafe(1 << 21);
  const probe = Buffer.allocUnsafe(512);
  // The first line start at or after `at`: the byte after the first line break from at - 1 on.
  const lineStart = (at: number): number => {
    if (at <= dataStart) return dataStart;
    for (let p = at - 1; p < size; p += probe.length) {
      const got = fs.readSync(fd, probe, 0, probe.length, p);
      const nl = probe.subarray(0, got).indexOf(10);
      if (nl !== -1) return p + nl + 1;
      if (got === 0) break;
    }
    return size;
  };
  const fresh = (): Rows => ({ ids: [], values: new Float64Array(chunkRows * d), target: hasTarget ? new Uint8Array(chunkRows) : undefined, n: 0 });
  const post = (segment: number, rows: Rows, last: boolean) => {
    const values = rows.values.subarray(0, rows.n * d);
    const target = rows.target?.subarray(0, rows.n);
    const transfer = [rows.values.buffer, ...(rows.target ? [rows.target.buffer] : [])];
    parentPort.postMessage({ segment, ids: rows.ids, values, target, n: rows.n, last }, transfer);
  };
  for (let s = first; s < count; s += step) {
    for (let m = Atomics.load(merged, 0); m + ahead <= s; m = Atomics.load(merged, 0)) Atomics.wait(merged, 0, m);
    const from = lineStart(dataStart + s * segmentBytes);
    const to = s + 1 === count ? size : lineStart(dataStart + (s + 1) * segmentBytes);
    let rows = fresh();
    // buf holds the file's bytes [base, end); pos: where reading goes on.
    let base = from;
    let end = from;
    let pos = from;
    while (pos < to) {
      const keep = end - pos;
      if (keep * 2 + 1 > buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, pos - base, end - base);
        buf = bigger;
      } else buf.copyWithin(0, pos - base, end - base);
      base = pos;
      end = pos + keep;
      // One byte is left free: a file's last line without a line break gets one, which scanRows needs.
      const got = fs.readSync(fd, buf, keep, Math.min(buf.length - keep - 1, to - end), end);
      // The file changed under the reader: this thread reads it again and says what it finds.
      if (got === 0 && end < to) {
        parentPort.postMessage({ segment: s, stop: true });
        return;
      }
      end += got;
      let limit = end === base ? base : base + buf.lastIndexOf(10, end - base - 1) + 1;
      if (end >= to && limit < end) {
        buf[end - base] = 10;
        limit = end + 1;
      }
      while (pos < limit) {
        const next = scan(buf, pos - base, limit - base, width, hasTarget, rows, chunkRows);
        if (next < 0) {
          parentPort.postMessage({ segment: s, stop: true });
          fs.closeSync(fd);
          return;
        }
        pos = base + next;
        if (rows.n === chunkRows) {
          post(s, rows, false);
          rows = fresh();
        }
      }
    }
    post(s, rows, true);
  }
  fs.closeSync(fd);
}

// A compiler that keeps functions' names wraps them in __name(); the worker has no such helper of its own.
const workerSource = `"use strict";\nvar __name = (f) => f;\n(${workerMain.toString()})(${scanRows.toString()});\n`;

/**
 * The batches of the rows from `dataStart` on, read by `threads` workers. Sets `state.complete` once every
 * row has been given; when it is left unset, a worker stopped at a line only this thread may read (or a
 * worker failed), and the batches given so far are the first ones of a single-threaded read.
 */
export async function* threadedBatches(
  path: string,
  header: string[],
  dataStart: number,
  size: number,
  batchRows: number,
  threads: number,
  state: { complete: boolean },
): AsyncGenerator<ScannedBatch> {
  const { segmentBytes } = threading();
  const width = header.length;
  const hasTarget = header[width - 1] === TARGET;
  const d = width - 1 - (hasTarget ? 1 : 0);
  const count = Math.max(1, Math.ceil((size - dataStart) / segmentBytes));
  const shared = new SharedArrayBuffer(4);
  const merged = new Int32Array(shared);
  const ahead = AHEAD_PER_THREAD * threads;
  const queues = new Map<number, Chunk[]>();
  let failed = false;
  let wake: (() => void) | undefined;
  const signal = () => {
    wake?.();
    wake = undefined;
  };
  const workers: Worker[] = [];
  const n = Math.min(threads, count);
  for (let first = 0; first < n; first++) {
    const workerData = { path, width, hasTarget, dataStart, size, segmentBytes, first, step: n, count, shared, ahead, chunkRows: CHUNK_ROWS };
    const w = new Worker(workerSource, { eval: true, workerData, execArgv: [] });
    w.on("message", (c: Chunk) => {
      const q = queues.get(c.segment);
      if (q) q.push(c);
      else queues.set(c.segment, [c]);
      signal();
    });
    w.on("error", () => {
      failed = true;
      signal();
    });
    w.on("exit", (code) => {
      if (code !== 0) failed = true;
      signal();
    });
    workers.push(w);
  }
  try {
    let firstRow = 2;
    let batch = newBatch(batchRows, d, hasTarget);
    let total = 0;
    for (let s = 0; s < count; s++) {
      for (;;) {
        const q = queues.get(s);
        const c = q?.shift();
        if (c === undefined) {
          if (failed) return;
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        if (c.stop) return;
        const rows = c.n ?? 0;
        for (let i = 0; i < rows; ) {
          const take = Math.min(rows - i, batchRows - batch.n);
          for (let k = 0; k < take; k++) batch.ids.push((c.ids as string[])[i + k] as string);
          batch.values.set((c.values as Float64Array).subarray(i * d, (i + take) * d), batch.n * d);
          if (batch.target) batch.target.set((c.target as Uint8Array).subarray(i, i + take), batch.n);
          batch.n += take;
          i += take;
          total += take;
          if (batch.n === batchRows) {
            yield { path, header, firstRow, ids: batch.ids, values: batch.values, target: batch.target };
            firstRow += batchRows;
            batch = newBatch(batchRows, d, hasTarget);
          }
        }
        if (c.last) break;
      }
      queues.delete(s);
      Atomics.store(merged, 0, s + 1);
      Atomics.notify(merged, 0);
    }
    if (batch.n > 0 || total === 0) {
      const m = batch.n;
      yield { path, header, firstRow, ids: batch.ids, values: batch.values.subarray(0, m * d), target: batch.target?.subarray(0, m) };
    }
    state.complete = true;
  } finally {
    if (state.complete) threadStats.complete++;
    else threadStats.stopped++;
    for (const w of workers) void w.terminate();
  }
}

function newBatch(batchRows: number, d: number, hasTarget: boolean): Rows {
  return { ids: [], values: new Float64Array(batchRows * d), target: hasTarget ? new Uint8Array(batchRows) : undefined, n: 0 };
}
