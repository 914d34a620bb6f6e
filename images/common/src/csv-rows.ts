/**
 * The fast path's reading of rows from bytes, in one function that uses nothing outside itself: a worker thread
 * runs its source text (csv-threads.ts), so the one code serves both the reader on the main thread and the
 * workers, and nothing has to be bundled twice.
 */

/** The rows one scanRows call filled: `n` rows of ids, row-major numbers and the 0/1 targets of a target column. */
export interface Rows {
  ids: string[];
  values: Float64Array;
  target: Uint8Array | undefined;
  n: number;
}

/**
 * Reads the lines of buf[pos..limit) into `rows` (from row rows.n on, up to `maxRows`), each line in one pass
 * over its bytes. buf[limit - 1] must be a line break: the caller makes `limit` the byte after the window's last
 * one, and gives a file's last line without one a line break of its own (which reads the same). Returns where the
 * next line starts; for a line the fast path does not read (a quote, a ragged row, a cell that is no number,
 * a target other than 0 or 1), ~(its start) instead, a negative number, with the rows before it kept.
 *
 * A cell that is a plain decimal (an optional sign, digits with an optional point) whose digits fit in 2^53,
 * with at most 22 decimals, is digits / 10^k: both exact, IEEE division rounds the quotient once, correctly, as
 * Number() does. Any other cell is read as parseNumber would read its text: trimmed, checked, Number().
 */
export function scanRows(
  buf: Buffer,
  pos: number,
  limit: number,
  width: number,
  hasTarget: boolean,
  rows: Rows,
  maxRows: number,
): number {
  const COMMA = 44;
  const LF = 10;
  const CR = 13;
  const QUOTE = 34;
  const MAX_EXACT = 9007199254740992;
  // Exact powers of ten as doubles: 10^22 is the last one a double holds exactly.
  const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
  const F = String.fromCharCode;
  const b = buf;
  // An ASCII id's string from its bytes: fromCharCode with one argument per byte costs half of toString's call
  // into the runtime, and ids of a few to twenty characters are one per row.
  const ascii = (p: number, n: number): string => {
    switch (n) {
      case 1:
        return F(b[p] as number);
      case 2:
        return F(b[p] as number, b[p + 1] as number);
      case 3:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number);
      case 4:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number);
      case 5:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number);
      case 6:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number);
      case 7:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number);
      case 8:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number);
      case 9:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number);
      case 10:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number);
      case 11:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number, b[p + 10] as number);
      case 12:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number, b[p + 10] as number, b[p + 11] as number);
      case 13:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number, b[p + 10] as number, b[p + 11] as number, b[p + 12] as number);
      case 14:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number, b[p + 10] as number, b[p + 11] as number, b[p + 12] as number, b[p + 13] as number);
      case 15:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number, b[p + 10] as number, b[p + 11] as number, b[p + 12] as number, b[p + 13] as number, b[p + 14] as number);
      case 16:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number, b[p + 10] as number, b[p + 11] as number, b[p + 12] as number, b[p + 13] as number, b[p + 14] as number, b[p + 15] as number);
      case 17:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number, b[p + 10] as number, b[p + 11] as number, b[p + 12] as number, b[p + 13] as number, b[p + 14] as number, b[p + 15] as number, b[p + 16] as number);
      case 18:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number, b[p + 10] as number, b[p + 11] as number, b[p + 12] as number, b[p + 13] as number, b[p + 14] as number, b[p + 15] as number, b[p + 16] as number, b[p + 17] as number);
      case 19:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number, b[p + 10] as number, b[p + 11] as number, b[p + 12] as number, b[p + 13] as number, b[p + 14] as number, b[p + 15] as number, b[p + 16] as number, b[p + 17] as number, b[p + 18] as number);
      case 20:
        return F(b[p] as number, b[p + 1] as number, b[p + 2] as number, b[p + 3] as number, b[p + 4] as number, b[p + 5] as number, b[p + 6] as number, b[p + 7] as number, b[p + 8] as number, b[p + 9] as number, b[p + 10] as number, b[p + 11] as number, b[p + 12] as number, b[p + 13] as number, b[p + 14] as number, b[p + 15] as number, b[p + 16] as number, b[p + 17] as number, b[p + 18] as number, b[p + 19] as number);
      default:
        return b.toString("latin1", p, p + n);
    }
  };
  const d = width - 1 - (hasTarget ? 1 : 0);
  const { ids, values, target } = rows;
  if (width < 2) return ~pos;
  let n = rows.n;
  while (pos < limit && n < maxRows) {
    const lineStart = pos;
    let c = buf[pos] as number;
    // An empty line, which no reader counts as a row.
    if (c === LF) {
      pos++;
      continue;
    }
    if (c === CR && buf[pos + 1] === LF) {
      pos += 2;
      continue;
    }
    let q = pos;
    let high = 0;
    for (; q < limit; q++) {
      c = buf[q] as number;
      if (c === COMMA || c === LF || c === QUOTE) break;
      high |= c;
    }
    if (c !== COMMA) break;
    ids.push(high > 127 ? buf.toString("utf8", pos, q) : ascii(pos, q - pos));
    const base = n * d;
    let ok = true;
    for (let j = 0; j < d; j++) {
      if (buf[q] !== COMMA) {
        ok = false;
        break;
      }
      let p = q + 1;
      const cellStart = p;
      c = buf[p] as number;
      const negative = c === 45;
      if (negative || c === 43) c = buf[++p] as number;
      const from = p;
      let mantissa = 0;
      // Two loops, the digits before the point and after it, keep the loop of each digit to one test. No
      // bound is tested: the line's line break stops them.
      let dg = c - 48;
      while (dg >= 0 && dg <= 9) {
        mantissa = mantissa * 10 + dg;
        dg = (buf[++p] as number) - 48;
      }
      let digits = p - from;
      let scale = 0;
      if (dg === -2) {
        const point = ++p;
        dg = (buf[p] as number) - 48;
        while (dg >= 0 && dg <= 9) {
          mantissa = mantissa * 10 + dg;
          dg = (buf[++p] as number) - 48;
        }
        scale = p - point;
        digits += scale;
      }
      c = dg + 48;
      const ends = c === COMMA || c === LF || (c === CR && buf[p + 1] === LF);
      let v: number;
      if (ends && digits > 0 && mantissa < MAX_EXACT && scale <= 22) {
        v = scale === 0 ? mantissa : mantissa / (POW10[scale] as number);
        if (negative) v = -v;
      } else if (ends && p === cellStart) {
        v = Number.NaN;
      } else {
        // Anything else: the cell's text as readCsvBatches cuts it (a CR ends it only before the line break),
        // read as parseNumber reads it.
        let e = cellStart;
        for (; e < limit; e++) {
          c = buf[e] as number;
          if (c === COMMA || c === LF || c === QUOTE) break;
        }
        if (c === QUOTE) {
          ok = false;
          break;
        }
        p = e;
        if (c === LF && e > cellStart && buf[e - 1] === CR) e--;
        const s = buf.toString("utf8", cellStart, e).trim();
        if (s === "") v = Number.NaN;
        else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s) && Number.isFinite(Number(s))) v = Number(s);
        else {
          ok = false;
          break;
        }
      }
      values[base + j] = v;
      q = p;
    }
    if (ok && target) {
      if (buf[q] !== COMMA) ok = false;
      else {
        const p = q + 1;
        let e = p;
        for (; e < limit; e++) {
          c = buf[e] as number;
          if (c === COMMA || c === LF || c === QUOTE) break;
        }
        q = e;
        if (c === QUOTE) ok = false;
        else {
          if (c === LF && e > p && buf[e - 1] === CR) e--;
          const b0 = buf[p] as number;
          if (e === p + 1 && (b0 === 48 || b0 === 49)) target[n] = b0 - 48;
          else {
            const s = buf.toString("utf8", p, e).trim();
            if (s === "0" || s === "1") target[n] = s === "0" ? 0 : 1;
            else ok = false;
          }
        }
      }
    }
    // The line must end here: its line break, or a CR and its line break.
    if (ok) {
      if (buf[q] === LF) pos = q + 1;
      else if (buf[q] === CR && buf[q + 1] === LF) pos = q + 2;
      else ok = false;
    }
    if (!ok) {
      ids.pop();
      break;
    }
    n++;
  }
  rows.n = n;
  return pos < limit && n < maxRows ? ~pos : pos;
}
