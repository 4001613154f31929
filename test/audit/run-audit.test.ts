/**
 * The audit's parts without the command: the ordered, bounded concurrency it streams
 * through, and runAudit against the real simulator answering 5xx (retried, then ERROR
 * rows). No Redis needed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mapOrdered } from '../../src/audit/map-ordered.js';
import { runAudit } from '../../src/audit/audit.js';
import { createOktaClient, sswsAuth, type OktaClient } from '../../src/okta/index.js';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { readReportFile } from '../helpers/report.js';

const tick = (ms = 1) => new Promise((r) => setTimeout(r, ms));

describe('mapOrdered', () => {
  it('keeps the order, never runs more than `concurrency` at once, and pulls the source only as far as the window', async () => {
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 50; i++) {
        pulled++;
        yield i;
      }
    }
    let inFlight = 0;
    let maxInFlight = 0;
    const got: number[] = [];
    for await (const v of mapOrdered(source(), 4, async (i) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await tick((i * 7) % 5); // finish out of order
      inFlight--;
      return i * 10;
    })) {
      got.push(v);
      expect(pulled).toBeLessThanOrEqual(got.length + 4);
    }
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i * 10));
    expect(maxInFlight).toBe(4);
  });

  it('passes an error on in order and lets the calls in flight end first', async () => {
    const finished: number[] = [];
    const seen: number[] = [];
    const run = async () => {
      for await (const v of mapOrdered([0, 1, 2, 3, 4, 5], 3, async (i) => {
        await tick(i === 1 ? 1 : 10);
        if (i === 1) throw new Error('boom at 1');
        finished.push(i);
        return i;
      })) seen.push(v);
    };
    await expect(run()).rejects.toThrow('boom at 1');
    expect(seen).toEqual([0]);
    expect(finished.sort()).toEqual([0, 2, 3]);
  });

  it('refuses a concurrency that is not a whole number from 1', async () => {
    await expect(mapOrdered([1], 0, async (x) => x).next()).rejects.toThrow('mapOrdered: expected `concurrency` to be an integer >= 1, got `0`');
  });
});

describe('runAudit with Okta answering 5xx', () => {
  let sim: SimulatorHandle | undefined;
  let client: OktaClient | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await client?.close();
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    sim = undefined;
    client = undefined;
    dir = undefined;
  });

  async function setup(errorRate: number) {
    sim = await startSimulator({ users: 30, errorRate, seed: 7, rateLimit: 100_000 });
    client = createOktaClient({ orgUrl: sim.url, auth: sswsAuth('any-token-000000') });
    dir = mkdtempSync(join(tmpdir(), 'be-audit-unit-'));
    const users = sim.users();
    async function* subjects() {
      for (const u of users) yield { userId: u.id };
    }
    return { users, subjects: subjects() };
  }

  it('retries 5xx and still writes every user', async () => {
    const { users, subjects } = await setup(0.3);
    const out = join(dir!, 'inv.csv');
    const result = await runAudit({ client: client!, users: subjects, outFile: out, retry: { attempts: 10, baseMs: 2 } });
    const rows = readReportFile(out);
    expect(rows.map((r) => [r.userId, r.login, r.status])).toEqual(users.map((u) => [u.id, u.login, 'NONE']));
    expect(result.errors).toBe(0);
    expect(sim!.stats().injectedErrors).toBeGreaterThan(0);
  });

  it('gives a user it cannot read one ERROR row and counts it', async () => {
    const { users, subjects } = await setup(1);
    const out = join(dir!, 'inv.csv');
    const errors: string[] = [];
    const result = await runAudit({ client: client!, users: subjects, outFile: out, concurrency: 5, retry: { attempts: 2, baseMs: 1 }, onUser: (u) => u.error && errors.push(u.error) });
    const rows = readReportFile(out);
    expect(rows).toHaveLength(users.length);
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(['ERROR']));
    expect(result.errors).toBe(users.length);
    expect(result.read).toBe(0);
    expect(result.activePushShare).toBe(0);
    expect(errors[0]).toMatch(/GET \/api\/v1\/users\/\S+ → 5\d\d/);
  });
});
