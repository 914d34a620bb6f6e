/**
 * Numbers go out as JavaScript's shortest round-trip text: prepare and split only move values, so they
 * must not round them, and the text of a number is the same on every machine. Empty means missing.
 */
export const formatValue = (v: unknown): string =>
  typeof v === "number" ? (Number.isNaN(v) ? "" : String(v)) : v === null || v === undefined ? "" : String(v);
