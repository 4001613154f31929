/**
 * A mixed migration scenario for end-to-end tests: a simulated directory (users who
 * scan after a delay, users who never scan) and an input CSV naming them by id or by
 * login, plus unknown users, invalid rows and duplicate rows, with the exact outcome
 * each input row must end with.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Expected {
  row: number;
  outcome: 'activated' | 'expired' | 'failed';
  errorCode?: string;
}

export interface Scenario {
  directoryCsv: string;
  inputCsv: string;
  expected: Expected[];
  users: Array<{ id: string; login: string; scans: boolean }>;
}

function id(prefix: string, n: number): string {
  const s = `${prefix}${n.toString(36)}`;
  return (s + 'x'.repeat(20)).slice(0, 20);
}

export function buildScenario(dir: string, opts: { users: number; seed?: number; scanMs?: [number, number] } = { users: 200 }): Scenario {
  let seed = opts.seed ?? 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const [smin, smax] = opts.scanMs ?? [100, 600];
  const users: Scenario['users'] = [];
  const dirLines = ['id,login,activation'];
  for (let i = 0; i < opts.users; i++) {
    const scans = rnd() < 0.7;
    const u = { id: id('00u', 1000 + i), login: `user${i}@example.com`, scans };
    users.push(u);
    dirLines.push(`${u.id},${u.login},${scans ? Math.round(smin + rnd() * (smax - smin)) : 'never'}`);
  }
  const input = ['userId,login,factorType,provider,deviceName'];
  const expected: Expected[] = [];
  let row = 0;
  const push = (line: string, e: Omit<Expected, 'row'>) => {
    input.push(line);
    expected.push({ row: ++row, ...e });
  };
  const seen = new Map<string, number>();
  users.forEach((u, i) => {
    const byLogin = i % 4 === 1;
    push(byLogin ? `,${u.login},push,OKTA,"Phone, model ${i}"` : `${u.id},,push,OKTA,Phone ${i}`, { outcome: u.scans ? 'activated' : 'expired' });
    seen.set(u.id, row);
    if (i % 25 === 3) push(`00unknownuser${String(i).padStart(7, '0')},,push,OKTA,`, { outcome: 'failed', errorCode: 'E0000007' });
    if (i % 30 === 7) push(`,nobody${i}@example.com,push,OKTA,`, { outcome: 'failed', errorCode: 'E0000007' });
    if (i % 20 === 5) push(`${u.id},,fido,OKTA,`, { outcome: 'failed', errorCode: 'INVALID_INPUT' });
    if (i % 40 === 9) push(`,,push,OKTA,nobody`, { outcome: 'failed', errorCode: 'INVALID_INPUT' });
  });
  // Duplicates: later rows naming an earlier user, by id and by login (cross form).
  users.forEach((u, i) => {
    if (i % 17 === 2) push(`${u.id},,push,OKTA,again`, { outcome: 'failed', errorCode: 'DUPLICATE_ROW' });
    if (i % 19 === 4) push(`,${u.login},push,OKTA,again by login`, { outcome: 'failed', errorCode: 'DUPLICATE_ROW' });
  });
  const directoryCsv = join(dir, 'directory.csv');
  const inputCsv = join(dir, 'input.csv');
  writeFileSync(directoryCsv, `${dirLines.join('\n')}\n`);
  writeFileSync(inputCsv, `${input.join('\r\n')}\r\n`);
  return { directoryCsv, inputCsv, expected, users };
}
