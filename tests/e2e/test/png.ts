// Reads a PNG the way a viewer would, to tell a real screenshot from a broken or blank file: the signature, every
// chunk's CRC, the header, and the pixels themselves (8-bit RGB or RGBA, not interlaced: what Chromium writes).
import { readFile } from "node:fs/promises";
import { crc32, inflateSync } from "node:zlib";

export interface PngSummary {
  bytes: number;
  width: number;
  height: number;
  /** How many different colours (RGB, alpha ignored) the pixels use. */
  colours: number;
  /** The share of the pixels that have the most common colour: 1 for a blank image. */
  dominantShare: number;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function decodePng(png: Buffer, name = "PNG"): PngSummary {
  const fail = (why: string): never => {
    throw new Error(`${name}: ${why}`);
  };
  if (png.length < SIGNATURE.length || !png.subarray(0, SIGNATURE.length).equals(SIGNATURE)) fail("not a PNG (no signature)");
  let at = SIGNATURE.length;
  let header: Buffer | undefined;
  const idat: Buffer[] = [];
  let ended = false;
  while (!ended) {
    if (at + 12 > png.length) fail(`truncated at byte ${at} (no IEND chunk)`);
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    if (at + 12 + length > png.length) fail(`chunk ${type} runs past the end of the file`);
    const data = png.subarray(at + 8, at + 8 + length);
    if (crc32(png.subarray(at + 4, at + 8 + length)) !== png.readUInt32BE(at + 8 + length)) fail(`chunk ${type}: bad CRC`);
    if (!header && type !== "IHDR") fail("the first chunk is not IHDR");
    if (type === "IHDR") header = data;
    else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") ended = true;
    at += 12 + length;
  }
  const head = header as Buffer;
  const width = head.readUInt32BE(0);
  const height = head.readUInt32BE(4);
  const [depth, colourType, , , interlace] = head.subarray(8, 13);
  if (depth !== 8 || (colourType !== 2 && colourType !== 6) || interlace !== 0) {
    fail(`bit depth ${depth}, colour type ${colourType}, interlace ${interlace}: expected 8-bit RGB(A), not interlaced`);
  }
  if (width === 0 || height === 0) fail(`empty image (${width}×${height})`);
  const channels = colourType === 6 ? 4 : 3;
  const stride = width * channels;
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length !== height * (stride + 1)) fail(`${raw.length} bytes of pixel data, expected ${height * (stride + 1)}`);

  // Undo each row's filter (PNG spec, section 9) and count the colours as the rows come.
  const counts = new Map<number, number>();
  let previous = Buffer.alloc(stride);
  let row = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? (row[i - channels] as number) : 0;
      const b = previous[i] as number;
      const c = i >= channels ? (previous[i - channels] as number) : 0;
      let predicted: number;
      switch (filter) {
        case 0: predicted = 0; break;
        case 1: predicted = a; break;
        case 2: predicted = b; break;
        case 3: predicted = (a + b) >> 1; break;
        case 4: {
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: return fail(`row ${y}: unknown filter ${filter}`);
      }
      row[i] = ((line[i] as number) + predicted) & 0xff;
    }
    for (let i = 0; i < stride; i += channels) {
      const rgb = ((row[i] as number) << 16) | ((row[i + 1] as number) << 8) | (row[i + 2] as number);
      counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
    }
    [previous, row] = [row, previous];
  }
  const dominant = Math.max(...counts.values());
  return { bytes: png.length, width, height, colours: counts.size, dominantShare: dominant / (width * height) };
}

export async function readPng(path: string): Promise<PngSummary> {
  return decodePng(await readFile(path), path);
}
