/**
 * JSON-lines logging on stderr. stdout is reserved for the one result line, because DockerOperator
 * pushes the last line of output to XCom.
 */
export type Fields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** Logs progress of a long loop at most every `everyMs`, and always at the end. */
  progress(label: string, total: number, everyMs?: number): (done: number) => void;
}

export function createLogger(stage: string, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const emit = (level: string, msg: string, fields: Fields = {}) =>
    write(`${JSON.stringify({ ts: new Date().toISOString(), level, stage, msg, ...fields })}\n`);
  return {
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    progress(label, total, everyMs = 2000) {
      let last = 0;
      return (done) => {
        const now = Date.now();
        if (done >= total || now - last >= everyMs) {
          last = now;
          emit("info", label, { done, total, pct: total ? Math.round((1000 * done) / total) / 10 : 100 });
        }
      };
    },
  };
}
