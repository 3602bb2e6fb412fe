// Human output of admin commands: a table for a list, `key: value` lines for one object (--json prints the API's JSON).
import type { Io } from '../commands/io.js';
import { table } from '../output.js';

/** A field of human output: its label and how to read it from an API object. */
export type Field<T> = readonly [label: string, read: (row: T) => unknown];

/**
 * Renders an API value as one terminal-safe line: control characters (an escape sequence in a name, a newline)
 * become visible `\u` escapes, so what the API stored cannot rewrite the operator's terminal.
 */
export function printable(value: unknown): string {
  let s: string;
  if (value === null || value === undefined || value === '') s = '-';
  else if (Array.isArray(value)) s = value.length ? value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',') : '-';
  else if (typeof value === 'object') s = JSON.stringify(value);
  else s = String(value);
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function printList<T>(io: Io, json: boolean | undefined, body: { items: T[] }, fields: ReadonlyArray<Field<T>>): void {
  if (json) return io.out.json(body);
  const rows = body.items.map((item) => fields.map(([, read]) => printable(read(item))));
  io.out.data(table(fields.map(([label]) => label.toUpperCase()), rows));
  if (rows.length === 0) io.out.info('(none)');
}

export function printRecord<T>(io: Io, json: boolean | undefined, body: T, fields: ReadonlyArray<Field<T>>): void {
  if (json) return io.out.json(body);
  io.out.data(fields.map(([label, read]) => `${label}: ${printable(read(body))}`).join('\n'));
}

/** Reads one property by name, for the common case of a field that is just a column. */
export const col = <T>(name: string): Field<T> => [name, (row: T) => (row as Record<string, unknown>)[name]];
