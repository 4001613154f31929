/**
 * A simulated org with factors in every state, for audit tests: users who scanned
 * (ACTIVE / seed ACTIVATED), whose activation expired (EXPIRED), who have not scanned
 * yet (PENDING_ACTIVATION), with an SMS factor, and with none. Time is an injected
 * clock, so states are exact and nothing waits.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Dialect, type SimulatorHandle } from '../../src/simulator/index.js';
import { createOktaClient, sswsAuth } from '../../src/okta/index.js';

export const TOKEN = 'audit-test-token-0123456789';

export interface Org {
  sim: SimulatorHandle;
  dir: string;
  users: Array<{ id: string; login: string; groups: string[] }>;
  close(): Promise<void>;
}

export function userId(i: number): string {
  return `00u${String(i).padStart(6, '0')}audit0000`.slice(0, 20);
}

/**
 * `count` users; those with i % 10 in [0, 1, 2] scan (ACTIVE), [3, 4] expire,
 * [5] stay pending, [6] get an SMS factor besides an expired push, the rest have none.
 * Members of `group` are users with i < groupSize.
 */
export async function startOrg(opts: { count: number; dialect?: Dialect; group?: string; groupSize?: number }): Promise<Org> {
  const dir = mkdtempSync(join(tmpdir(), 'be-audit-'));
  const lines = ['id,login,activation,group,phone'];
  const users: Org['users'] = [];
  for (let i = 0; i < opts.count; i++) {
    const id = userId(i);
    const login = `person${i}@example.com`;
    const groups = opts.group && i < (opts.groupSize ?? opts.count) ? [opts.group] : [];
    const scans = i % 10 <= 2;
    users.push({ id, login, groups });
    lines.push(`${id},${login},${scans ? '10' : 'never'},${groups.join(';')},+1555${String(i).padStart(7, '0')}`);
  }
  const usersCsv = join(dir, 'directory.csv');
  writeFileSync(usersCsv, `${lines.join('\n')}\n`);
  let now = 1_760_000_000_000;
  const clock = { now: () => now };
  const sim = await startSimulator({
    dialect: opts.dialect ?? 'okta',
    usersCsv,
    token: TOKEN,
    clock,
    rateLimit: 1_000_000,
    rateWindowMs: 60_000,
    activationTtlMs: 60_000,
    onDuplicate: 'allow',
    smsIntervalMs: 0,
  });
  const client = createOktaClient({ orgUrl: sim.url, auth: sswsAuth(TOKEN) });
  try {
    const enroll = (ids: string[], body: Parameters<typeof client.enrollFactor>[1]) => Promise.all(ids.map((id) => client.enrollFactor(id, body)));
    const push = { factorType: 'push', provider: 'OKTA' };
    const byMod = (...mods: number[]) => users.filter((_, i) => mods.includes(i % 10)).map((u) => u.id);
    await enroll(byMod(0, 1, 2, 3, 4, 6), push);
    now += 61_000; // scanners scanned, the others' activations expired
    await enroll(byMod(5), push);
    await Promise.all(
      users
        .map((u, i) => ({ u, i }))
        .filter(({ i }) => i % 10 === 6)
        .map(({ u, i }) => client.enrollFactor(u.id, { factorType: 'sms', provider: 'OKTA', profile: { phoneNumber: `+1555${String(i).padStart(7, '0')}` } })),
    );
    now += 1000;
  } finally {
    await client.close();
  }
  return {
    sim,
    dir,
    users,
    close: async () => {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An in-memory output stream for a command's printed lines. */
export function sink(): { stream: NodeJS.WritableStream; text(): string } {
  const chunks: string[] = [];
  return { stream: { write: (s: string) => (chunks.push(String(s)), true) } as unknown as NodeJS.WritableStream, text: () => chunks.join('') };
}
