export * from "./atomic.ts";
export * from "./cli.ts";
export * from "./csv.ts";
export * from "./errors.ts";
export * from "./log.ts";
export * from "./paths.ts";
export * from "./random.ts";
export * from "./schema.ts";
