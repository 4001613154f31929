/**
 * What a schedule needs, kept in Redis when it is registered, so that any worker on any
 * machine can run its nightly job: the source (a snapshot of the `--from` report's rows,
 * or a group id every worker can read from Okta), the selection, the run settings and
 * the report folder. After each night the stored rows are replaced by that night's
 * outcome rows: tonight's output is tomorrow night's input.
 *
 * Keys (under the configured prefix, never expiring on their own):
 *   be:schedules                  set of schedule names
 *   be:schedule:<name>            hash: definition and the last night's figures
 *   be:schedule:<name>:rows       list: the rows the next night starts from (JSON report rows)
 *   be:schedule:<name>:lock       hash with a TTL: the nightly run lock (src/reenroll/lock.ts)
 */
import type { Redis } from 'ioredis';
import type { ReportRow } from '../csv/report.js';
import type { ReenrollRunSettings } from './settings.js';
import { RunLock } from './lock.js';

export const SCHEDULE_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export function scheduleNameProblem(name: string): string | undefined {
  return SCHEDULE_NAME_RE.test(name) ? undefined : `--name: expected 1 to 64 letters, digits, _ . -, got \`${name}\``;
}

export function scheduleKeys(prefix: string, name: string) {
  const base = `${prefix}:be:schedule:${name}`;
  return { meta: base, rows: `${base}:rows`, lock: `${base}:lock`, index: `${prefix}:be:schedules` };
}

export type ScheduleSource = { kind: 'report'; file: string; sha256: string; rows: number } | { kind: 'group'; groupId: string };

export interface ScheduleDefinition {
  name: string;
  source: ScheduleSource;
  /** Where workers write each night's report (relative to the worker's working folder). */
  reportDir: string;
  includeFailed: boolean;
  includePending: boolean;
  settings: ReenrollRunSettings;
  /** As registered (BullMQ keeps the authoritative copy). */
  cron?: string;
  tz?: string;
  every?: number;
}

export interface ScheduleState extends ScheduleDefinition {
  createdAt: string;
  updatedAt: string;
  /** Rows the next night starts from, and where they came from (`snapshot` or a run id). */
  rowCount: number;
  rowsFrom: string;
  /** The run the current (or last) nightly job started. */
  currentRunId?: string;
  lastRunId?: string;
  lastReport?: string;
  lastFinishedAt?: string;
  lastCounts?: Record<string, number>;
  /** Ticks skipped because the previous night was still going. */
  skipped: number;
  lastSkippedAt?: string;
  lastSkipReason?: string;
}

const CHUNK = 1000;

export class ScheduleStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  keys(name: string) {
    return scheduleKeys(this.prefix, name);
  }

  lock(name: string, ttlMs: number): RunLock {
    return new RunLock(this.redis, this.keys(name).lock, ttlMs);
  }

  async names(): Promise<string[]> {
    return (await this.redis.smembers(scheduleKeys(this.prefix, '_').index)).sort();
  }

  /**
   * Store a definition. With `rows` (a new `--from` snapshot) the stored rows are
   * replaced; without, an existing schedule keeps the rows it has.
   */
  async save(def: ScheduleDefinition, rows?: readonly ReportRow[], now = new Date()): Promise<ScheduleState> {
    const k = this.keys(def.name);
    const existing = await this.get(def.name);
    const fields: Record<string, string> = {
      name: def.name,
      source: JSON.stringify(def.source),
      reportDir: def.reportDir,
      includeFailed: def.includeFailed ? '1' : '0',
      includePending: def.includePending ? '1' : '0',
      settings: JSON.stringify(def.settings),
      updatedAt: now.toISOString(),
      createdAt: existing?.createdAt ?? now.toISOString(),
      cron: def.cron ?? '',
      tz: def.tz ?? '',
      every: def.every !== undefined ? String(def.every) : '',
    };
    if (rows) {
      await this.replaceRows(def.name, rows, 'snapshot');
    } else if (!existing) {
      fields.rowCount = '0';
      fields.rowsFrom = def.source.kind === 'group' ? 'group' : 'snapshot';
    }
    await this.redis.multi().hset(k.meta, fields).sadd(k.index, def.name).exec();
    return (await this.get(def.name))!;
  }

  async get(name: string): Promise<ScheduleState | undefined> {
    const h = await this.redis.hgetall(this.keys(name).meta);
    if (!h.name) return undefined;
    const json = <T>(s: string | undefined): T | undefined => {
      if (!s) return undefined;
      try {
        return JSON.parse(s) as T;
      } catch {
        return undefined;
      }
    };
    return {
      name: h.name,
      source: json<ScheduleSource>(h.source) ?? { kind: 'report', file: '', sha256: '', rows: 0 },
      reportDir: h.reportDir || 'reports',
      includeFailed: h.includeFailed === '1',
      includePending: h.includePending === '1',
      settings: json<ReenrollRunSettings>(h.settings) ?? ({} as ReenrollRunSettings),
      ...(h.cron ? { cron: h.cron } : {}),
      ...(h.tz ? { tz: h.tz } : {}),
      ...(h.every ? { every: Number(h.every) } : {}),
      createdAt: h.createdAt ?? '',
      updatedAt: h.updatedAt ?? '',
      rowCount: Number(h.rowCount ?? 0),
      rowsFrom: h.rowsFrom ?? 'snapshot',
      ...(h.currentRunId ? { currentRunId: h.currentRunId } : {}),
      ...(h.lastRunId ? { lastRunId: h.lastRunId } : {}),
      ...(h.lastReport ? { lastReport: h.lastReport } : {}),
      ...(h.lastFinishedAt ? { lastFinishedAt: h.lastFinishedAt } : {}),
      ...(h.lastCounts ? { lastCounts: json<Record<string, number>>(h.lastCounts) ?? {} } : {}),
      skipped: Number(h.skipped ?? 0),
      ...(h.lastSkippedAt ? { lastSkippedAt: h.lastSkippedAt } : {}),
      ...(h.lastSkipReason ? { lastSkipReason: h.lastSkipReason } : {}),
    };
  }

  /** Replace the rows the next night starts from (atomically: a reader sees the old or the new list). */
  async replaceRows(name: string, rows: AsyncIterable<ReportRow> | Iterable<ReportRow>, from: string): Promise<number> {
    const k = this.keys(name);
    const tmp = `${k.rows}:next:${from}`;
    await this.redis.del(tmp);
    let n = 0;
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length) await this.redis.rpush(tmp, ...batch);
      batch = [];
    };
    for await (const r of rows) {
      batch.push(JSON.stringify(r));
      n++;
      if (batch.length >= CHUNK) await flush();
    }
    await flush();
    const m = this.redis.multi();
    if (n) m.rename(tmp, k.rows);
    else m.del(k.rows);
    await m.hset(k.meta, 'rowCount', String(n), 'rowsFrom', from).exec();
    return n;
  }

  /** The rows the next night starts from. */
  async *rows(name: string): AsyncGenerator<ReportRow> {
    const k = this.keys(name);
    for (let start = 0; ; start += CHUNK) {
      const items = await this.redis.lrange(k.rows, start, start + CHUNK - 1);
      for (const s of items) yield JSON.parse(s) as ReportRow;
      if (items.length < CHUNK) return;
    }
  }

  async setFields(name: string, fields: Record<string, string>): Promise<void> {
    await this.redis.hset(this.keys(name).meta, fields);
  }

  async noteSkip(name: string, reason: string, now = new Date()): Promise<void> {
    const k = this.keys(name);
    await this.redis.multi().hincrby(k.meta, 'skipped', 1).hset(k.meta, 'lastSkippedAt', now.toISOString(), 'lastSkipReason', reason).exec();
  }

  /** Forget a schedule's definition and rows (its runs stay: `bulk-enroll report <runId>`). */
  async remove(name: string): Promise<boolean> {
    const k = this.keys(name);
    const res = await this.redis.multi().del(k.meta, k.rows).srem(k.index, name).exec();
    return Number(res?.[0]?.[1] ?? 0) > 0;
  }
}
