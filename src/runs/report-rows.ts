/**
 * A run's report rows, in input order, read from Redis in chunks: one row per input
 * row, final or still pending. Used by `run`, `report`, the dashboard and the summary.
 */
import type { ReportRow } from '../csv/report.js';
import { decodeInput, decodeOutcome, decodeProgress } from '../rows/codec.js';
import { noteText } from '../rows/state.js';
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
      const input = inputs[i] ? decodeInput(pos, inputs[i]!) : undefined;
      const out = decodeOutcome(outcomes[i]);
      const p = decodeProgress(progress[i]);
      yield {
        row: fileRows[i] ?? String(pos),
        userId: out?.userId ?? p.userId ?? input?.userId ?? '',
        login: input?.login ?? '',
        factorType: input?.factorType ?? '',
        provider: input?.provider ?? '',
        deviceName: input?.deviceName ?? '',
        outcome: out?.outcome ?? 'pending',
        status: out?.status ?? p.factor?.status ?? '',
        factorId: out?.factorId ?? p.factor?.id ?? '',
        errorCode: out?.errorCode ?? '',
        errorSummary: out?.errorSummary ?? '',
        attempts: String(out?.attempts ?? p.attempts),
        enrolledAt: out?.enrolledAt ?? p.factor?.created ?? '',
        finishedAt: out?.finishedAt ?? '',
        note: out?.note ?? noteText(p.notes),
        delivery: out?.delivery ?? p.delivery ?? '',
      };
    }
  }
}
