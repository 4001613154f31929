/**
 * Putting a CSV into a run: every row's compact input record goes into Redis (so
 * workers on other machines need no access to the file, and a crashed run can be
 * resumed), invalid rows get their final `failed` outcome right away. Streamed and
 * pipelined: the file is never held in memory.
 */
import { basename, resolve } from 'node:path';
import type { RunSettings } from '../config.js';
import { inspectInput, readInput, type InputSummary, type ReadInputOptions } from '../csv/read-input.js';
import type { InputRow, InvalidRow } from '../csv/input-row.js';
import { newRunId } from './keys.js';
import { encodeInput } from '../rows/codec.js';
import { failedOutcome } from '../rows/outcome.js';
import type { RunStore } from './store.js';

const PIPELINE_ROWS = 1000;

export interface IngestResult {
  runId: string;
  summary: InputSummary;
}

/** Input record for an invalid row: what the report should echo back. */
function packInvalid(v: InvalidRow): string {
  const r: InputRow = {
    row: v.row,
    userId: v.userId,
    login: v.login,
    factorType: v.factorType ?? '',
    provider: v.provider ?? '',
    deviceName: v.deviceName,
  };
  return encodeInput(r);
}

/**
 * First pass (validate the whole file, count rows, SHA-256: a file-level problem
 * throws InputFileError before anything is written), then the rows go into Redis.
 */
export async function ingestCsv(
  store: RunStore,
  file: string,
  settings: RunSettings,
  opts: { readOptions?: ReadInputOptions; runId?: string; command?: string; onProgress?: (stored: number, total: number) => void } = {},
): Promise<IngestResult> {
  const summary = await inspectInput(file, { ...opts.readOptions, countDuplicates: false });
  const runId = opts.runId ?? newRunId();
  const earlier = await store.runOfFile(summary.sha256);
  await store.createRun({
    rerunOf: earlier && earlier !== runId ? earlier : undefined,
    id: runId,
    createdAt: new Date().toISOString(),
    command: opts.command ?? 'run',
    file: file === '-' ? file : resolve(file),
    fileName: file === '-' ? 'standard input' : basename(file),
    sha256: summary.sha256,
    bytes: summary.bytes,
    total: summary.rows,
    settings,
  });
  const k = store.keys(runId);
  const nowMs = Date.now();
  let pipe = store.redis.pipeline();
  let inPipe = 0;
  let stored = 0;
  const flush = async () => {
    if (!inPipe) return;
    pipe.hset(k.meta, 'stored', String(stored));
    const res = await pipe.exec();
    for (const [err] of res ?? []) if (err) throw err;
    pipe = store.redis.pipeline();
    inPipe = 0;
    opts.onProgress?.(stored, summary.rows);
  };
  for await (const r of readInput(file, opts.readOptions)) {
    const row = r.value.row;
    // Rows are stored by position in the run (1..n); the file's row number is kept for the report.
    stored++;
    if (r.ok) {
      pipe.hset(k.input, String(stored), encodeInput({ ...r.value, row }));
      if (row !== stored) pipe.hset(`${k.input}:fileRow`, String(stored), String(row));
    } else {
      pipe.hset(k.input, String(stored), packInvalid(r.value));
      if (row !== stored) pipe.hset(`${k.input}:fileRow`, String(stored), String(row));
      const outcome = failedOutcome(r.value.errorCode, r.value.reason, nowMs, r.value.userId);
      (pipe as unknown as { beFinalize: (...a: string[]) => void }).beFinalize(...store.finalizeArgs(k, runId, stored, outcome));
    }
    if (++inPipe >= PIPELINE_ROWS) await flush();
  }
  await flush();
  if (stored !== summary.rows) {
    // The file changed between the two passes.
    await store.setTotal(runId, stored);
  }
  await store.activate(runId);
  return { runId, summary };
}

/** One row of a source that is not a CSV being read (a previous report, a stored snapshot). */
export interface SourceRow {
  /** The row number the report shows for it (a previous report's `row`). */
  fileRow: string;
  input: InputRow;
}

/**
 * Rows already in hand (a previous report's rows, a schedule's stored outcome rows)
 * into a run: stored by position 1..n, each keeping its own row number for the report,
 * then the run is activated. `source` describes where they came from (the manifest
 * records it). With an existing `runId` still `enqueuing`, its rows are written again.
 */
export async function ingestRows(
  store: RunStore,
  rows: readonly SourceRow[],
  settings: RunSettings,
  opts: { runId?: string; command?: string; source?: { file?: string; fileName?: string; sha256?: string; bytes?: number } } = {},
): Promise<{ runId: string; rows: number }> {
  const runId = opts.runId ?? newRunId();
  const src = opts.source ?? {};
  await store.createRun({
    id: runId,
    createdAt: new Date().toISOString(),
    command: opts.command ?? 'run',
    ...(src.file ? { file: src.file } : {}),
    ...(src.fileName ? { fileName: src.fileName } : {}),
    ...(src.sha256 ? { sha256: src.sha256 } : {}),
    ...(src.bytes !== undefined ? { bytes: src.bytes } : {}),
    total: rows.length,
    settings,
  });
  const k = store.keys(runId);
  for (let start = 0; start < rows.length; start += PIPELINE_ROWS) {
    const pipe = store.redis.pipeline();
    rows.slice(start, start + PIPELINE_ROWS).forEach((r, i) => {
      const pos = start + i + 1;
      pipe.hset(k.input, String(pos), encodeInput({ ...r.input, row: pos }));
      if (r.fileRow !== String(pos)) pipe.hset(`${k.input}:fileRow`, String(pos), r.fileRow);
    });
    pipe.hset(k.meta, 'stored', String(Math.min(rows.length, start + PIPELINE_ROWS)));
    const res = await pipe.exec();
    for (const [err] of res ?? []) if (err) throw err;
  }
  await store.activate(runId);
  return { runId, rows: rows.length };
}
