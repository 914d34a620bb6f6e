/**
 * `npm run bench:csv [rows]`: MB/s of the CSV reader and writer on a file shaped like raw/{ds}/data.csv (an id
 * and 20 features of six decimals, 1M rows ≈ 200 MB by default), made once into the system's temporary folder.
 * Each case runs several times and the best is reported: other work on the machine only ever slows a run down.
 */
import { existsSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setThreading } from "../src/csv-threads.ts";
import { CsvSink, fmt, frameRows, readCsvBatches, readFrames, readFramesAsText, readTargets, rng, round6, writeFrameRows } from "../src/index.ts";

const rows = Number(process.argv[2] ?? 1_000_000);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const features = Array.from({ length: 20 }, (_, j) => `f${String(j).padStart(2, "0")}`);
const dataPath = join(tmpdir(), `aml-bench-csv-${rows}.csv`);
const targetPath = join(tmpdir(), `aml-bench-csv-${rows}-target.csv`);

async function make(): Promise<void> {
  if (existsSync(dataPath) && existsSync(targetPath)) return;
  const r = rng("bench-csv");
  const data = await open(dataPath, "w");
  const target = await open(targetPath, "w");
  const sinks = [new CsvSink((b) => data.write(b).then(() => {})), new CsvSink((b) => target.write(b).then(() => {}))] as const;
  await sinks[0].text(`id,${features.join(",")}\n`);
  await sinks[1].text("id,target\n");
  for (let i = 0; i < rows; i++) {
    const id = `20261102-${String(i + 1).padStart(6, "0")}`;
    let line = id;
    // About 1% of the cells missing, as generate's default leaves them.
    for (let j = 0; j < features.length; j++) line += `,${r() < 0.01 ? "" : fmt((j % 5) + (r() - 0.5) * 6)}`;
    await sinks[0].text(`${line}\n`);
    await sinks[1].text(`${id},${r() < 0.3 ? 1 : 0}\n`);
  }
  await sinks[0].flush();
  await sinks[1].flush();
  await data.close();
  await target.close();
}

/**
 * Wall time and this process's CPU time, best of `runs`: on a busy machine the CPU time is the steadier
 * measure of the work itself, and the MB/s are given for both.
 */
async function best(name: string, bytes: () => number, fn: () => Promise<void>): Promise<void> {
  let wall = Number.POSITIVE_INFINITY;
  let cpu = Number.POSITIVE_INFINITY;
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, (performance.now() - t0) / 1000);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  const mb = bytes() / 1e6;
  console.log(
    `${name.padEnd(44)} wall ${wall.toFixed(2).padStart(6)} s ${(mb / wall).toFixed(0).padStart(5)} MB/s   cpu ${cpu.toFixed(2).padStart(6)} s ${(mb / cpu).toFixed(0).padStart(5)} MB/s`,
  );
}

await make();
const size = (await stat(dataPath)).size;
const targetSize = (await stat(targetPath)).size;
console.log(`${rows} rows, ${(size / 1e6).toFixed(0)} MB: ${dataPath}`);

let check = 0;
// CPU time counts the workers' too: on threads, the wall time is the measure.
await best("read: readFrames on worker threads", () => size, async () => {
  for await (const f of readFrames(dataPath, { withTarget: false })) check += f.values[0] ?? 0;
});
setThreading({ threads: 1 });
await best("read: readFrames (ids + numbers), one thread", () => size, async () => {
  for await (const f of readFrames(dataPath, { withTarget: false })) check += f.values[0] ?? 0;
});
await best("read: readFramesAsText (the text path)", () => size, async () => {
  for await (const f of readFramesAsText(dataPath, { withTarget: false })) check += f.values[0] ?? 0;
});
await best("read: readCsvBatches (rows of strings)", () => size, async () => {
  for await (const b of readCsvBatches(dataPath)) check += b.rows.length;
});
await best("read: readTargets (id → label)", () => targetSize, async () => {
  check += (await readTargets(targetPath)).size;
});

// The writers get the frames read once; only the formatting and the copy into the sink's buffer are timed.
const frames = [];
for await (const f of readFrames(dataPath, { withTarget: false })) frames.push(f);
let written = 0;
const sink = new CsvSink(async (data) => void (written += data.length));
await best("write: writeFrameRows (bytes)", () => written / runs, async () => {
  for (const f of frames) await writeFrameRows(sink, f);
  await sink.flush();
});
written = 0;
await best("write: rows(frameRows(String)) (the text path)", () => written / runs, async () => {
  for (const f of frames) await sink.rows(frameRows(f, (v) => (Number.isNaN(v) ? "" : String(v))));
  await sink.flush();
});
// predict's lines: id, a probability to 6 decimals, the label.
const probability = (f: (typeof frames)[0], i: number) => ((f.values[i * 20] as number) + 10) / 20;
written = 0;
const line = new Float64Array(2);
await best("write: predict's lines, numbers (bytes)", () => written / runs, async () => {
  for (const f of frames) {
    for (let i = 0; i < f.ids.length; i++) {
      line[0] = round6(probability(f, i));
      line[1] = line[0] >= 0.5 ? 1 : 0;
      const pending = sink.numbers(f.ids[i] as string, line);
      if (pending) await pending;
    }
  }
  await sink.flush();
});
let text = 0;
await best("write: predict's lines, fmt (the text path)", () => text / runs, async () => {
  for (const f of frames) {
    let chunk = "";
    for (let i = 0; i < f.ids.length; i++) {
      const p = fmt(probability(f, i));
      chunk += `${f.ids[i]},${p},${Number(p) >= 0.5 ? 1 : 0}\n`;
    }
    text += Buffer.byteLength(chunk);
  }
});
if (Number.isNaN(check)) console.log("");
