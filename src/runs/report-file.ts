/**
 * Writing a run's report file: its rows, in input order, from Redis (src/runs/report-rows.ts)
 * to a CSV (src/csv/report.ts). Shared by `run`, `resume`, `report` and the nightly job.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeReport } from '../csv/report.js';
import { reportRows } from './report-rows.js';
import type { RunStore } from './store.js';

export async function writeRunReport(store: RunStore, runId: string, file: string): Promise<{ rows: number; sha256: string }> {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  return writeReport(file, reportRows(store, runId));
}
