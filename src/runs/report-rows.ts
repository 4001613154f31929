/**
 * A run's report rows, in input order, read from Redis in chunks: one row per input
 * row, final or still pending. Used by `run`, `report`, the dashboard and the summary.
 */
import type { ReportRow } from '../csv/report.js';
import { parseJson, unpackInput, type OutcomeRecord, type Progress } from './records.js';
import type { RunStore } from './store.js';

const CHUNK = 1000;

export async function* reportRows(store: RunStore, runId: string): AsyncGenerator<ReportRow> {
  const meta = await store.getMeta(runId);
  if (!meta) return;
  const k = store.keys(runId);
  const n = meta.stored;
  for (let start = 1; start <= n; start += CHUNK) {
    const fields = Array.from({ length: Math.min(CHUNK, n - start + 1) }, (_, i) => String(start + i));
    const [inputs, outcomes, progress, fileRows] = await Promise.all([
      store.redis.hmget(k.input, ...fields),
      store.redis.hmget(k.outcomes, ...fields),
      store.redis.hmget(k.progress, ...fields),
      store.redis.hmget(`${k.input}:fileRow`, ...fields),
    ]);
    for (let i = 0; i < fields.length; i++) {
      const pos = start + i;
      const input = inputs[i] ? unpackInput(pos, inputs[i]!) : undefined;
      const out = parseJson<OutcomeRecord>(outcomes[i]);
      const p = parseJson<Progress>(progress[i]) ?? {};
      yield {
        row: fileRows[i] ?? String(pos),
        userId: out?.uid ?? p.uid ?? input?.userId ?? '',
        login: input?.login ?? '',
        factorType: input?.factorType ?? '',
        provider: input?.provider ?? '',
        deviceName: input?.deviceName ?? '',
        outcome: out?.o ?? 'pending',
        status: out?.fs ?? p.fs ?? '',
        factorId: out?.fid ?? p.fid ?? '',
        errorCode: out?.ec ?? '',
        errorSummary: out?.es ?? '',
        attempts: String(out?.at ?? p.at ?? 0),
        enrolledAt: out?.cr ?? p.cr ?? '',
        finishedAt: out?.fin ?? '',
        note: out?.n ?? p.n ?? '',
        delivery: out?.d ?? '',
      };
    }
  }
}
