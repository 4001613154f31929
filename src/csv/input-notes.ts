/**
 * What an operator should know about how the input was read, said once (validate's
 * output, run's log): the delimiter and where it came from, which header cells are read
 * as which column when the names differ (an Okta user export's Username / ID), and the
 * columns that are ignored.
 */
import { describeDelimiter, describeDelimiterSource } from './delimiter.js';
import { showValue } from './input-row.js';
import type { InputSummary } from './read-input.js';

const SHOWN_IGNORED = 10;

/** `delimiter ";" (semicolon), detected from the header`. */
export function delimiterNote(s: Pick<InputSummary, 'delimiter' | 'delimiterFrom'>): string {
  return `delimiter ${describeDelimiter(s.delimiter)}, ${describeDelimiterSource(s.delimiterFrom)}`;
}

/** The notes about columns: the Okta export or renamed columns read, the columns ignored. */
export function columnNotes(s: Pick<InputSummary, 'mapping' | 'ignoredColumns' | 'oktaExport'>): string[] {
  const notes: string[] = [];
  const renamed = s.mapping.filter((m) => m.header !== m.column);
  const read = renamed.map((m) => `${showValue(m.header)} as ${m.column}`).join(', ');
  if (s.oktaExport) notes.push(`Okta user export: reading ${read || 'its login column'}; its other columns are ignored`);
  else if (renamed.length) notes.push(`reading ${read}`);
  const n = s.ignoredColumns.length;
  if (n) {
    const shown = s.ignoredColumns.slice(0, SHOWN_IGNORED).map(showValue).join(', ');
    notes.push(`${n} column${n === 1 ? '' : 's'} ignored (not input columns): ${shown}${n > SHOWN_IGNORED ? `, … and ${n - SHOWN_IGNORED} more` : ''}`);
  }
  return notes;
}
