import { format, parseArgs } from "node:util";
import { removePendingOutputs } from "./atomic.ts";
import { InputError, UsageError } from "./errors.ts";
import { createLogger, type Logger } from "./log.ts";

export interface OptionSpec {
  /** Shown in --help. */
  help: string;
  default?: string;
  flag?: boolean;
}

export type Options = Record<string, OptionSpec>;

/** Parsed option values: strings (defaults applied) and booleans for flags. */
export class Args {
  constructor(
    private readonly values: Record<string, string | boolean | undefined>,
    readonly positionals: string[],
  ) {}

  str(name: string): string {
    const v = this.values[name];
    if (typeof v !== "string" || v === "") throw new UsageError(`--${name} is required`);
    return v;
  }

  optStr(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === "string" && v !== "" ? v : undefined;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  num(name: string, range: { min?: number; max?: number; integer?: boolean } = {}): number {
    const raw = this.str(name);
    const v = Number(raw);
    const kind = range.integer ? "an integer" : "a number";
    if (raw.trim() === "" || !Number.isFinite(v) || (range.integer && !Number.isInteger(v))) {
      throw new UsageError(`--${name}: expected ${kind}, got "${raw}"`);
    }
    if ((range.min !== undefined && v < range.min) || (range.max !== undefined && v > range.max)) {
      throw new UsageError(`--${name}: expected ${kind} in [${range.min ?? "-inf"}, ${range.max ?? "inf"}], got ${raw}`);
    }
    return v;
  }

  int(name: string, range: { min?: number; max?: number } = {}): number {
    return this.num(name, { ...range, integer: true });
  }

  choice<T extends string>(name: string, choices: readonly T[]): T {
    const v = this.str(name);
    if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name}: expected one of ${choices.join(", ")}, got "${v}"`);
    return v as T;
  }
}

export interface Command {
  summary: string;
  options: Options;
  run: (args: Args, log: Logger) => Promise<Record<string, unknown>>;
}

function helpText(prog: string, name: string | undefined, cmd: Command): string {
  const lines = [`Usage: ${prog}${name ? ` ${name}` : ""} [options]`, "", cmd.summary, "", "Options:"];
  for (const [opt, spec] of Object.entries(cmd.options)) {
    // An empty default is "not set": nothing to show.
    const def = spec.default ? ` (default: ${spec.default})` : "";
    lines.push(`  --${opt}${spec.flag ? "" : " <value>"}`.padEnd(30) + spec.help + def);
  }
  lines.push("  --help".padEnd(30) + "show this help");
  return `${lines.join("\n")}\n`;
}

function parse(cmd: Command, argv: string[]): Args | "help" {
  const options: Record<string, { type: "string" | "boolean"; default?: string }> = { help: { type: "boolean" } };
  for (const [name, spec] of Object.entries(cmd.options)) {
    options[name] = spec.flag ? { type: "boolean" } : { type: "string", ...(spec.default !== undefined ? { default: spec.default } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message.split("\n")[0] ?? String(err));
  }
  if (parsed.values.help) return "help";
  return new Args(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals);
}

/**
 * Libraries print to the console (tfjs greets on stderr, danfo prints tables on stdout). stdout must end
 * with our result line and stderr must stay JSON lines, so their words become log lines.
 */
function routeConsole(log: Logger): void {
  console.log = console.info = console.debug = (...a: unknown[]) => log.info(format(...a), { source: "console" });
  console.warn = (...a: unknown[]) => log.warn(format(...a), { source: "console" });
  console.error = (...a: unknown[]) => log.error(format(...a), { source: "console" });
  // Node's own warnings (deprecations) are not failures: alerting and the "one error line" rule must not see them.
  process.removeAllListeners("warning");
  process.on("warning", (w) => log.warn(w.message, { source: "node", code: (w as NodeJS.ErrnoException).code }));
}

let stopping: Logger | undefined;

/**
 * `docker stop` (Airflow stopping a task) sends SIGTERM, then SIGKILL after a grace period. Node as a container's
 * first process would ignore SIGTERM, and a process that dies on a signal runs no `finally`: the temporary
 * files of the outputs it was writing would stay. So the stage removes them, says so in one line, and exits
 * 128 + the signal's number, as a shell reports it.
 */
function stopOnSignals(log: Logger): void {
  // Once per process, with the latest logger: tests run many commands in one process.
  const installed = stopping !== undefined;
  stopping = log;
  if (installed) return;
  for (const [signal, number] of [
    ["SIGTERM", 15],
    ["SIGINT", 2],
  ] as const) {
    process.once(signal, () => {
      removePendingOutputs();
      stopping?.error(`stopped by ${signal}: outputs not yet in place were removed`);
      process.exit(128 + number);
    });
  }
}

/**
 * Runs one stage CLI: a single command, or subcommands (`prepare`, `split`). Success prints one JSON
 * result line on stdout and exits 0; any failure prints one error line on stderr and exits non-zero.
 */
export async function runCli(
  stage: string,
  commands: Command | Record<string, Command>,
  argv: string[] = process.argv.slice(2),
): Promise<number> {
  const log = createLogger(stage);
  routeConsole(log);
  stopOnSignals(log);
  const single = "run" in commands;
  try {
    let name: string | undefined;
    let cmd: Command;
    let rest = argv;
    if (single) {
      cmd = commands as Command;
    } else {
      const table = commands as Record<string, Command>;
      name = argv[0];
      if (name === undefined || name === "--help" || name === "-h") {
        process.stdout.write(`Usage: ${stage} <${Object.keys(table).join("|")}> [options]\n\n`);
        for (const [n, c] of Object.entries(table)) process.stdout.write(`  ${n.padEnd(12)}${c.summary}\n`);
        return (process.exitCode = name === undefined ? 2 : 0);
      }
      const found = table[name];
      if (!found) throw new UsageError(`unknown command "${name}", expected one of ${Object.keys(table).join(", ")}`);
      cmd = found;
      rest = argv.slice(1);
    }
    const args = parse(cmd, rest);
    if (args === "help") {
      process.stdout.write(helpText(stage, name, cmd));
      return (process.exitCode = 0);
    }
    const started = performance.now();
    const result = await cmd.run(args, log);
    const seconds = Math.round(performance.now() - started) / 1000;
    process.stdout.write(`${JSON.stringify({ status: "ok", stage: name ?? stage, ...result, seconds })}\n`);
    return (process.exitCode = 0);
  } catch (err) {
    if (err instanceof UsageError) {
      log.error(`usage: ${err.message} (see --help)`);
      return (process.exitCode = 2);
    }
    if (err instanceof InputError) {
      log.error(err.message, { file: err.file });
      return (process.exitCode = 1);
    }
    const e = err instanceof Error ? err : new Error(String(err));
    log.error(e.message, { stack: e.stack });
    return (process.exitCode = 1);
  }
}
