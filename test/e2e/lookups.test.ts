/**
 * One lookup per distinct login per run: 25 rows naming one login (a chaos run had 25,000)
 * cost one user lookup, not 25; the later rows are duplicates at once. In process, against
 * a real Redis and the simulator.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startSimulator } from '../../src/simulator/index.js';
import { runCommand } from '../../src/commands/run.js';
import { redisUrl } from '../helpers/redis.js';
import { readReportFile } from '../helpers/report.js';
import { quiet, useWorkspace } from '../helpers/workspace.js';

const ws = useWorkspace('lookups');

it('rows naming the same login cost one lookup; the later ones end DUPLICATE_ROW', async () => {
  writeFileSync(join(ws.dir, 'dir.csv'), 'id,login,activation\n00ulookup00000000001,same@example.com,200\n00ulookup00000000002,other@example.com,200\n');
  const rows = ['login,factorType', ...Array.from({ length: 25 }, () => 'SAME@example.com,push'), 'other@example.com,push'];
  writeFileSync(join(ws.dir, 'in.csv'), `${rows.join('\n')}\n`);
  ws.sim = await startSimulator({ usersCsv: join(ws.dir, 'dir.csv'), activationTtlMs: 2000, rateLimit: 100_000, token: 'lookup-token-0123456789' });
  const report = join(ws.dir, 'report.csv');
  await runCommand(join(ws.dir, 'in.csv'), { report, orgUrl: ws.sim.url, redis: redisUrl(), prefix: ws.prefix, rateLimit: '100000', usersRateLimit: '100000', deliver: 'none', detect: 'poll', pollInitialMs: '100' }, {
    env: { OKTA_API_TOKEN: 'lookup-token-0123456789' },
    out: quiet,
  });
  const out = readReportFile(report);
  expect(out[0]).toMatchObject({ outcome: 'activated' });
  expect(out.slice(1, 25).every((r) => r.errorCode === 'DUPLICATE_ROW' && r.errorSummary === 'same user and factorType as row 1')).toBe(true);
  expect(out[25]).toMatchObject({ outcome: 'activated' });
  expect(ws.sim.stats().requests.byRoute['GET /api/v1/users/{idOrLogin}']).toBe(2);
}, 60_000);
