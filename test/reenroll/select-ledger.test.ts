/**
 * Which report rows a re-enrollment revisits (pure), and the attempt ledger on a real
 * Redis (test/helpers/redis.ts): counted once per attempt token, refused at the cap,
 * a row's own retry never mistaken for a new attempt.
 */
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRetryableFailure, selectRows, wantsRevisit } from '../../src/reenroll/select.js';
import { AttemptLedger } from '../../src/reenroll/attempts.js';
import type { ReportRow } from '../../src/csv/report.js';
import { cleanPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

describe('selection', () => {
  it('takes expired rows; failed ones only with a cause a retry may overcome; pending only when asked', () => {
    const retryable = ['NETWORK_ERROR', 'INTERNAL_ERROR', 'JOB_FAILED', 'WORKER_LOST', 'E0000009', 'HTTP_502', 'HTTP_503'];
    const final = ['E0000007', 'INVALID_INPUT', 'DUPLICATE_ROW', 'MAX_ATTEMPTS', 'E0000001', 'FOREIGN_LINK', 'BAD_RESPONSE', 'HTTP_404'];
    for (const c of retryable) expect([c, isRetryableFailure(c)]).toEqual([c, true]);
    for (const c of final) expect([c, isRetryableFailure(c)]).toEqual([c, false]);
    // A 5xx with Okta's own code ends "(after N tries)".
    expect(isRetryableFailure('E0000999', 'Service Unavailable (after 8 tries)')).toBe(true);
    expect(isRetryableFailure('E0000007', 'Not found (after 8 tries)')).toBe(false);

    const r = (outcome: string, errorCode = '') => ({ outcome, errorCode, errorSummary: '' });
    expect(wantsRevisit(r('expired'), {})).toBe(true);
    expect(wantsRevisit(r('activated'), { includeFailed: true, includePending: true })).toBe(false);
    expect(wantsRevisit(r('failed', 'NETWORK_ERROR'), {})).toBe(false);
    expect(wantsRevisit(r('failed', 'NETWORK_ERROR'), { includeFailed: true })).toBe(true);
    expect(wantsRevisit(r('failed', 'E0000007'), { includeFailed: true })).toBe(false);
    expect(wantsRevisit(r('pending'), {})).toBe(false);
    expect(wantsRevisit(r('pending'), { includePending: true })).toBe(true);
  });

  it('keeps each row number and user, defaults factor type and provider, leaves out rows naming nobody', async () => {
    const base: ReportRow = { row: '', userId: '', login: '', factorType: '', provider: '', deviceName: '', outcome: 'expired', status: '', factorId: '', errorCode: '', errorSummary: '', attempts: '', enrolledAt: '', finishedAt: '', note: '', delivery: '' };
    const sel = await selectRows([
      { ...base, row: '3', userId: '00u3', factorType: 'PUSH', provider: 'OKTA', deviceName: 'Phone, 3' },
      { ...base, row: '9', login: 'nine@example.com' },
      { ...base, row: '10' },
      { ...base, row: '11', userId: '00u11', outcome: 'activated' },
    ]);
    expect(sel.rows).toEqual([
      { fileRow: '3', input: { row: 3, userId: '00u3', factorType: 'push', provider: 'OKTA', deviceName: 'Phone, 3' } },
      { fileRow: '9', input: { row: 9, login: 'nine@example.com', factorType: 'push', provider: 'OKTA' } },
    ]);
    expect(sel.read).toBe(4);
    expect(sel.skipped).toEqual({ expired: 1, activated: 1 });
  });
});

describe('attempt ledger', () => {
  let prefix: string;
  let redis: Redis;
  beforeEach(() => {
    prefix = uniquePrefix('ledger');
    redis = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    redis.disconnect();
    await cleanPrefix(redisUrl(), prefix);
  });

  it('counts each attempt once, refuses at the cap, lets a row retry its own counted attempt', async () => {
    const l = new AttemptLedger(redis, prefix);
    expect(await l.charge('00u1', 'PUSH', { runId: 'r1', row: 4, step: 'e' })).toEqual({ allowed: true, count: 1, counted: true });
    expect(await l.charge('00u1', 'push', { runId: 'r1', row: 4, step: 'e' })).toEqual({ allowed: true, count: 1, counted: false });
    expect(await l.charge('00u1', 'push', { cap: 2, runId: 'r2', row: 1, step: 'r1' })).toEqual({ allowed: true, count: 2, counted: true });
    // At the cap: nothing counted, refused; the row whose attempt was the last counted may go on.
    expect(await l.charge('00u1', 'push', { cap: 2, runId: 'r3', row: 1, step: 'r1' })).toEqual({ allowed: false, count: 2, counted: false });
    expect(await l.atCap('00u1', 'push', 2, 'r3', 1)).toMatchObject({ count: 2, last: 'r2:1:r1', lastRun: 'r2' });
    expect(await l.atCap('00u1', 'push', 2, 'r2', 1)).toBeUndefined();
    expect(await l.atCap('00u1', 'push', 3, 'r3', 1)).toBeUndefined();
    expect(await l.atCap('00u1', 'push', undefined, 'r3', 1)).toBeUndefined();
    // Per factor type, durable (no TTL), and an operator can reset one user.
    expect((await l.get('00u1', 'sms')).count).toBe(0);
    expect(await redis.pttl(`${prefix}:be:attempts:00u1|push`)).toBe(-1);
    expect(await l.reset('00u1', 'push')).toBe(true);
    expect(await l.charge('00u1', 'push', { cap: 2, runId: 'r3', row: 1, step: 'r1' })).toMatchObject({ allowed: true, count: 1 });
  });
});
