/**
 * Writing a run's report file: its rows, in input order, from Redis (src/runs/report-rows.ts)
 * to a CSV (src/csv/report.ts). Shared by `run`, `resume`, `report` and the nightly job.
 */
import { writeReport, type WriteCsvOptions } from '../csv/report.js';
import { reportRows } from './report-rows.js';
import type { RunStore } from './store.js';

export async function writeRunReport(store: RunStore, runId: string, file: string, opts: WriteCsvOptions = {}): Promise<{ rows: number; sha256: string }> {
  // writeReport creates the folder, and names the file when it cannot.
  return writeReport(file, reportRows(store, runId), opts);
}
