// The PNG check the screenshot test relies on, on images made here: it must read back what was written (every
// row filter), and refuse what is not a whole PNG.
import { expect } from "chai";
import { crc32, deflateSync } from "node:zlib";
import { decodePng } from "./png.ts";

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

/** An 8-bit RGB PNG of `pixel(x, y)`, its rows filtered with each of the five filters in turn. */
function encodePng(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const stride = width * 3;
  const raw = Buffer.alloc(height * (stride + 1));
  let previous = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(stride);
    for (let x = 0; x < width; x++) row.set(pixel(x, y), x * 3);
    const filter = y % 5;
    raw[y * (stride + 1)] = filter;
    for (let i = 0; i < stride; i++) {
      const a = i >= 3 ? (row[i - 3] as number) : 0;
      const b = previous[i] as number;
      const c = i >= 3 ? (previous[i - 3] as number) : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predicted = [0, a, b, (a + b) >> 1, paeth][filter] as number;
      raw[y * (stride + 1) + 1 + i] = ((row[i] as number) - predicted) & 0xff;
    }
    previous = row;
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

describe("the PNG check of the screenshots", () => {
  it("reads back the size and the colours of an image, whatever the row filters", () => {
    // 16 × 10 pixels in 4 colours, 40 pixels each.
    const png = encodePng(16, 10, (x, y) => (x < 4 ? [255, 255, 255] : x < 8 ? [200, 10, 10] : y < 5 ? [1, 2, 3] : [90, 180, 250]));
    expect(decodePng(png)).to.deep.include({ width: 16, height: 10, colours: 4, dominantShare: 0.25 });
    const gradient = encodePng(64, 20, (x, y) => [x * 4, y * 12, (x * y) & 0xff]);
    // Red tells the columns apart and green the rows: every pixel has a colour of its own.
    expect(decodePng(gradient)).to.deep.include({ colours: 64 * 20, dominantShare: 1 / (64 * 20) });
  });

  it("says a blank image is blank", () => {
    expect(decodePng(encodePng(40, 30, () => [255, 255, 255]))).to.deep.include({ colours: 1, dominantShare: 1 });
  });

  it("refuses what is not a whole, valid PNG", () => {
    const png = encodePng(8, 8, (x, y) => [x * 30, y * 30, 0]);
    expect(() => decodePng(Buffer.from("<html>not a picture</html>"), "page")).to.throw("page: not a PNG");
    expect(() => decodePng(png.subarray(0, png.length - 20))).to.throw(/truncated|past the end/);
    const flipped = Buffer.from(png);
    flipped[40] = (flipped[40] as number) ^ 0xff;
    expect(() => decodePng(flipped)).to.throw(/bad CRC/);
  });
});
