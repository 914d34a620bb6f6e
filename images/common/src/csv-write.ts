/**
 * Numbers' CSV text written straight into bytes, the same bytes String() and fmt() give, without a string per
 * cell. A plain decimal of at most 15 significant digits is the only decimal of at most 15 digits that reads
 * back as its double (15 digits always round-trip), so it is the shortest text that does, String()'s; its
 * digits are written from integers. Everything else goes through String().
 */

/** Exactly what `Number(v.toFixed(6))` is: v rounded to 6 decimals, as fmt() writes it. */
export function round6(v: number): number {
  const a = Math.abs(v);
  // Below 1000, a * 1e6 is within 1.2e-7 of the exact product: unless that lands within 1e-6 of a half,
  // rounding it picks toFixed's integer (the nearest to the exact value).
  if (a < 1000) {
    const t = a * 1e6;
    const f = t - Math.floor(t);
    if (f < 0.499999 || f > 0.500001) {
      const n = Math.round(t) / 1e6;
      return v < 0 ? -n : n;
    }
  }
  return Number.isNaN(v) ? v : Number(v.toFixed(6));
}

/** The longest text String() gives a double, "-1.2345678901234567e-100" and the like. */
export const NUMBER_BYTES = 25;

/**
 * Writes String(v) (nothing for NaN) at buf[at] and returns where it ends. The room for NUMBER_BYTES must
 * be there.
 */
export function putNumber(buf: Buffer, at: number, v: number): number {
  if (v === 0) {
    buf[at] = 48; // "0", for -0 too
    return at + 1;
  }
  const a = Math.abs(v);
  if (a < 1e9) {
    const m = Math.round(a * 1e6);
    if (m / 1e6 === a) {
      if (v < 0) buf[at++] = 45;
      const frac = m % 1e6;
      // Both parts are below 10^9, small integers: the digits come from integer division, written from the
      // last one back, straight into the buffer.
      let int = (m - frac) / 1e6;
      let len = 1;
      for (let t = int; t >= 10; t = (t / 10) | 0) len++;
      for (let i = at + len - 1; i >= at; i--) {
        const q = (int / 10) | 0;
        buf[i] = 48 + int - q * 10;
        int = q;
      }
      at += len;
      if (frac !== 0) {
        buf[at++] = 46;
        let f = frac;
        let width = 6;
        for (let q = (f / 10) | 0; f === q * 10; q = (f / 10) | 0) {
          f = q;
          width--;
        }
        for (let i = at + width - 1; i >= at; i--) {
          const q = (f / 10) | 0;
          buf[i] = 48 + f - q * 10;
          f = q;
        }
        at += width;
      }
      return at;
    }
  }
  if (Number.isNaN(v)) return at;
  return at + buf.write(String(v), at, "latin1");
}
