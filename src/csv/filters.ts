/**
 * Row filters from the command line: `--match department=^Finance$` keeps only rows
 * whose cell matches, `--skip login=@contractor\.` leaves rows out. Used by validate,
 * run and enqueue.
 */
import { ConfigError } from '../errors.js';

export interface RowFilter {
  column: string;
  regex: RegExp;
}

/**
 * Parse repeated `column=regex` flag values. Every problem is collected and thrown
 * together as one ConfigError ("--match "x": expected column=regex, …").
 */
export function parseFilterFlags(values: readonly string[], flag: string): RowFilter[] {
  const filters: RowFilter[] = [];
  const problems: string[] = [];
  for (const value of values) {
    const eq = value.indexOf('=');
    const column = eq === -1 ? '' : value.slice(0, eq).trim();
    if (eq === -1 || !column) {
      problems.push(`${flag} ${JSON.stringify(value)}: expected column=regex, like department=^Finance$`);
      continue;
    }
    const source = value.slice(eq + 1);
    if (!source) {
      problems.push(`${flag} ${JSON.stringify(value)}: expected a regular expression after "=", got nothing (use ^$ to match empty cells)`);
      continue;
    }
    try {
      filters.push({ column, regex: new RegExp(source) });
    } catch (err) {
      problems.push(`${flag} ${JSON.stringify(value)}: expected a valid regular expression, got ${JSON.stringify(source)} (${(err as Error).message})`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return filters;
}

/** Test a cell against a filter (safe for regexes with the g or y flag). */
export function filterMatches(filter: RowFilter, cell: string): boolean {
  filter.regex.lastIndex = 0;
  return filter.regex.test(cell);
}
