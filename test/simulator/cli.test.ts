/**
 * `bulk-enroll simulator` as an operator starts it: one `listening on …` line on
 * stdout, serves, exits cleanly (code 0) on SIGTERM. Also: flag and users-file errors
 * say what was expected, what was found, and where.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { request } from 'undici';
import { optionsFromFlags } from '../../src/commands/simulator.js';
import { loadUsersCsv } from '../../src/simulator/directory.js';
import { ConfigError, InputFileError } from '../../src/errors.js';
import { csvFile, thrown } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no line on stdout within 20 s; stdout so far: ${JSON.stringify(buf)}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, i));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing a line`));
    });
  });
}

describe('bulk-enroll simulator (CLI)', () => {
  test('prints exactly one listening line, answers, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'simulator', '--port', '0', '--users', '3', '--dialect', 'seed'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const line = await firstLine(child);
    const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
    expect(m, line).not.toBeNull();
    const users = (await (await request(`${m![1]}/__sim/users`)).body.json()) as Array<{ id: string }>;
    expect(users).toHaveLength(3);
    const res = await request(`${m![1]}/api/v1/users/${users[0]!.id}/factors`, {
      method: 'POST',
      headers: { authorization: 'SSWS anything', 'content-type': 'application/json' },
      body: JSON.stringify({ factorType: 'push', provider: 'duo' }),
    });
    await res.body.text();
    expect(res.statusCode).toBe(301);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toBe(`${line}\n`);
  });

  test('flag problems are all listed, named by flag', async () => {
    const err = await optionsFromFlags({ dialect: 'new', rateLimit: 'lots', errorRate: '2', latencyMs: '5-x', port: '70000' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        '--rate-limit: expected a number, got `lots`',
        '--latency-ms: expected milliseconds or a range MIN-MAX, got `5-x`',
        '--dialect: expected "okta" or "seed", got `new`',
        '--error-rate: expected a number from 0 to 1, got `2`',
        '--port: expected an integer from 0 to 65535, got `70000`',
      ]),
    );
    expect(await optionsFromFlags({ activateAfterMs: '10-20', latencyMs: '5' })).toMatchObject({ activateAfterMs: [10, 20], latencyMs: 5 });
  });

  test('the org-behaviour and fault flags become options; their problems are named by flag', async () => {
    const partial = await optionsFromFlags({
      listShape: 'pending-next',
      restartShape: 'activation',
      pollLink: 'activate',
      logDebugData: 'off',
      logTargets: 'user',
      refuseFactor: ['sms', 'email'],
      readOnly: true,
      strictBodies: true,
      oieBundle: true,
      hugeBodyBytes: '52428800',
      hugeBodyCount: '3',
      absurdReset: '2',
      echoToken: true,
      duplicateRateLimitHeaders: true,
      clockOffsetMs: '-5000',
    });
    expect(partial).toMatchObject({
      listShape: 'pending-next',
      restartShape: 'activation',
      pollLink: 'activate',
      logDebugData: false,
      logTargets: 'user',
      refuseFactorTypes: ['sms', 'email'],
      readOnly: true,
      strictBodies: true,
      oieBundle: true,
      hugeBodyBytes: 52428800,
      hugeBodyCount: 3,
      absurdReset: 2,
      echoToken: true,
      duplicateRateLimitHeaders: true,
      clockOffsetMs: -5000,
    });
    const err = await optionsFromFlags({
      listShape: 'sideways',
      logDebugData: 'maybe',
      refuseFactor: ['fax'],
      hugeBodyRate: '0.5',
      clockOffsetMs: '1.5',
      dialect: 'seed',
      restartShape: 'activation',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual(
      expect.arrayContaining([
        '--list-shape: expected "expired", "pending-next" or "pending-activate", got `sideways`',
        '--log-debug-data: expected on or off, got `maybe`',
        expect.stringMatching(/^--refuse-factor: expected factor types among push, sms, .*, got `fax`$/),
        '--huge-body-rate: expected set only with hugeBodyBytes, got `0.5`',
        '--clock-offset-ms: expected an integer number of milliseconds, at most ten years either way, got `1.5`',
        '--restart-shape: expected "factor" with dialect "seed" (the other shape is the okta dialect\'s), got `activation`',
      ]),
    );
  });

  test('users-file problems name the line, the column, what was expected and what was found', () => {
    const file = csvFile('id,login,activation\n00u1,a@example.com,soon\n,b@example.com,100\n00u1,c@example.com,never;after-delivery:5\n');
    const err = thrown(() => loadUsersCsv(file, 0));
    expect(err).toBeInstanceOf(InputFileError);
    const msg = (err as Error).message;
    expect(msg).toContain('line 2: column `activation`: expected each entry to be "never", a delay in ms, "after-delivery:<ms>", "cancel:<ms>" or "error:<ms>", got "soon"');
    expect(msg).toContain('line 3: column `id`: expected a user id, got ""');
    expect(msg).toContain('line 4: column `id`: expected a unique id, got "00u1" a second time');
    expect(() => loadUsersCsv(csvFile('user,mail\nx,y\n'), 0)).toThrow(/expected a column `id`, found columns `user`, `mail`/);
    const ok = loadUsersCsv(csvFile('id,login,activation,group\n00u2,d@example.com,never;after-delivery:5;100,a;b\n'), 0);
    expect(ok[0]!.activation).toEqual([{ kind: 'never' }, { kind: 'afterDelivery', ms: 5 }, { kind: 'delay', ms: 100 }]);
    expect(ok[0]!.groups).toEqual(['a', 'b']);
  });
});
