/**
 * Search filters for runs/search and model-versions/search. The server's parser (sqlparse, then a plain strip
 * of the outer quotes) has no escape sequences: `''` or `\'` inside a literal stay in the value as typed. So a
 * value is put in whichever quotes it does not contain, and a value it cannot express is refused rather than
 * sent as a filter that matches something else.
 */
import { InputError } from "../errors.ts";

/** A string literal of MLflow's filter grammar holding exactly `value`. */
export function filterValue(value: string, context: string): string {
  // A backslash before the closing quote would make the tokenizer read past it.
  if (/[\\\n\r]/.test(value)) {
    throw new InputError(context, `cannot search MLflow for a value with a backslash or line break: ${JSON.stringify(value)}`);
  }
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new InputError(context, `cannot search MLflow for a value holding both quote kinds: ${JSON.stringify(value)}`);
}

/** `tags.\`<key>\` = '<value>'`: the key in backticks, so dots or dashes in it are not read as syntax. */
export function tagEquals(key: string, value: string, context: string): string {
  if (key.includes("`")) throw new InputError(context, `cannot search MLflow for a tag key with a backtick: ${key}`);
  return `tags.\`${key}\` = ${filterValue(value, context)}`;
}
