import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';

export type ReportRecord = Record<string, string>;

export function readReportFile(file: string): ReportRecord[] {
  return parse(readFileSync(file), { columns: true, bom: true }) as ReportRecord[];
}
