import { expect } from "chai";
import { CsvSink, csvLines, fmt, frameRows, putNumber, rng, round6, writeFrameRows, type Frame } from "../src/index.ts";

/** Doubles of every kind: 6-decimal values as the images write them, integers, random bits, edges. */
function doubles(seed: string, count: number): number[] {
  const r = rng(seed);
  const bits = new Float64Array(1);
  const words = new Uint32Array(bits.buffer);
  const out = [
    0, -0, 1, -1, 0.1, 0.5, 1e-6, -1e-6, 1e-7, 5e-7, 999999999.999999, 1e9, -1e9, 123456789.123456, 1e15, 1e21, 1e-300,
    Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 0.1 + 0.2, 1 / 3, -2 / 3, 0.0000015, 0.0000025,
    0.1234565, 0.4999995, 0.5000005, 999.9999995, -0.0000005,
    // The integer digit loops at every length and the trailing zeros of the decimals at every count.
    10, 100, 1000000, 100000000, 123456789.000001, 0.10001, 10.00001, 99999999.9, -0.000010, 7.12, 7.1203,
  ];
  for (let i = 0; i < count; i++) {
    const scale = 10 ** Math.floor(r() * 24 - 12);
    out.push(Number(((r() - 0.5) * 20).toFixed(6)), (r() - 0.5) * scale, Math.round((r() - 0.5) * scale), Number(((r() - 0.5) * 2e3).toFixed(7)));
    words[0] = Math.floor(r() * 2 ** 32);
    words[1] = Math.floor(r() * 2 ** 32);
    if (Number.isFinite(bits[0])) out.push(bits[0] as number);
    // Halves at the 7th decimal: where rounding to 6 decimals is closest to a tie.
    out.push((Math.floor(r() * 1e9) + 0.5) / 1e6, -(Math.floor(r() * 1e6) + 0.5) / 1e6);
  }
  return out;
}

describe("CSV numbers written as bytes", () => {
  it("writes every double as String() does", () => {
    const buf = Buffer.alloc(64);
    for (const v of [...doubles("put-number", 20_000), Number.NaN, Number.POSITIVE_INFINITY]) {
      const end = putNumber(buf, 3, v);
      expect(buf.toString("latin1", 3, end), String(v)).to.equal(Number.isNaN(v) ? "" : String(v));
    }
  });

  it("rounds to 6 decimals exactly as Number(v.toFixed(6)) does", () => {
    for (const v of [...doubles("round6", 20_000), Number.NaN]) {
      const expected = Number(v.toFixed(6));
      expect(Object.is(round6(v), expected) || (Number.isNaN(expected) && Number.isNaN(round6(v))), String(v)).to.equal(true);
    }
    // fmt's text is round6's value written shortest.
    const buf = Buffer.alloc(64);
    for (const v of doubles("fmt", 2000)) expect(buf.toString("latin1", 0, putNumber(buf, 0, round6(v)))).to.equal(fmt(v));
  });

  it("writes a frame's rows byte for byte as frameRows and csvLines do, ids quoted where needed", async () => {
    const values = doubles("frame", 3000);
    const d = 3;
    const n = Math.floor(values.length / d);
    const ids = Array.from({ length: n }, (_, i) => [`r${i}`, "a,b", ' lead', "é", 'q"', "x".repeat(400)][i % 37] ?? `id-${i}`);
    values[5] = Number.NaN;
    const f: Frame = {
      path: "f",
      ids,
      columns: ["a", "b", "c"],
      values: Float64Array.from(values.slice(0, n * d)),
      target: Uint8Array.from(ids, (_, i) => i % 2),
    };
    const pieces: Buffer[] = [];
    // A small buffer, so that rows meet its end and the 400-character id does not fit at all.
    const sink = new CsvSink(async (data) => void pieces.push(Buffer.from(data)), 512);
    await writeFrameRows(sink, f);
    await sink.flush();
    const format = (v: number) => (Number.isNaN(v) ? "" : String(v));
    expect(Buffer.concat(pieces).toString()).to.equal(csvLines(frameRows(f, format)));
  });
});
