/**
 * Answer bodies are read up to a cap per endpoint (factors 1 MB, users and groups 8 MB,
 * System Log 16 MB): past it the connection is closed and OktaProtocolError names the cap,
 * whether Content-Length announced the size or the body just kept coming; many 50 MB
 * answers in a row leave the process's memory flat. Real servers on loopback.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { sswsAuth } from '../../src/okta/auth-ssws.js';
import { createOktaClient } from '../../src/okta/client.js';
import { OktaProtocolError } from '../../src/okta/errors.js';
import { BODY_CAPS } from '../../src/okta/read-body.js';
import type { OktaClient } from '../../src/okta/types.js';
import { json, startCannedServer, type CannedServer } from './helpers/canned-server.js';
import { failure } from './helpers/failure.js';

const U = '00u15s1KDETTQMQYABRL';
const MB = 1024 * 1024;

let org: CannedServer;
let client: OktaClient;
afterEach(async () => {
  await client?.close();
  await org?.close();
});

async function setup(): Promise<void> {
  org = await startCannedServer();
  client = createOktaClient({ orgUrl: org.origin, auth: sswsAuth('00capTestToken000000000000') });
}


const CHUNK = Buffer.alloc(64 * 1024, 0x20); // spaces: valid JSON whitespace

/**
 * Streams `total` bytes (`[` + spaces, never finished) without holding them, and
 * resolves with how many bytes were written before the client went away.
 */
function stream(res: ServerResponse, total: number, headers: Record<string, string> = {}): Promise<number> {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  let written = 0;
  res.write('[');
  return new Promise((resolve) => {
    const pump = (): void => {
      while (written < total && !res.destroyed) {
        written += CHUNK.length;
        if (!res.write(CHUNK)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end(']');
    };
    res.on('close', () => resolve(written));
    pump();
  });
}

describe('body caps', () => {
  it('are 1 MB for factors, 8 MB for users and groups, 16 MB for the System Log', () => {
    expect(BODY_CAPS).toMatchObject({ factors: 1 * MB, users: 8 * MB, groups: 8 * MB, logs: 16 * MB });
  });

  it('a factor answer that announces 50 MB is refused before reading it; the connection is closed; the next request works', async () => {
    await setup();
    let sent: Promise<number> | undefined;
    org.handle((req, res) => {
      if (req.url.endsWith('/factors/big')) sent = stream(res, 50 * MB, { 'content-length': String(50 * MB + 2) });
      else json(res, 200, { id: 'ok', status: 'ACTIVE' });
    });
    const err = await failure(client.getFactor(U, 'big'));
    expect(err).toBeInstanceOf(OktaProtocolError);
    expect(err).toMatchObject({ errorCode: 'BAD_RESPONSE', method: 'GET', path: `/api/v1/users/${U}/factors/big` });
    expect(err.message).toContain('declares 50.0 MB, more than the 1 MB read at most from factors endpoints');
    expect(await sent).toBeLessThan(8 * MB);
    expect((await client.getFactor(U, 'ok')).state).toBe('activated');
  });

  it('a body that just keeps coming (no Content-Length) is cut at the cap; error answers are capped too', async () => {
    await setup();
    let sent: Promise<number> | undefined;
    org.handle((req, res) => {
      if (req.url.endsWith('/factors')) sent = stream(res, 50 * MB);
      else {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errorCode: 'E0000001', errorSummary: 'x'.repeat(2 * MB) }));
      }
    });
    const err = await failure(client.listFactors(U));
    expect(err).toBeInstanceOf(OktaProtocolError);
    expect(err.message).toMatch(/more than the 1 MB read at most from factors endpoints; connection closed/);
    expect(await sent).toBeLessThan(8 * MB);
    const err2 = await failure(client.enrollFactor(U, { factorType: 'push', provider: 'OKTA' }));
    expect(err2).toBeInstanceOf(OktaProtocolError);
  });

  it('a 5 MB group page and a 9 MB System Log page are read; a 9 MB group page is not', async () => {
    await setup();
    const users = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `00u${i}`.padEnd(20, 'x'), status: 'ACTIVE', profile: { login: `user${i}@example.com`, pad: 'p'.repeat(150) } }));
    const events = (n: number) => Array.from({ length: n }, (_, i) => ({ uuid: `e${i}`, eventType: 'user.mfa.factor.activate', published: '2024-01-01T00:00:00.000Z', pad: 'p'.repeat(200) }));
    const small = JSON.stringify(users(22_000));
    const large = JSON.stringify(users(42_000));
    const logs = JSON.stringify(events(36_000));
    expect(small.length).toBeGreaterThan(5 * MB);
    expect(large.length).toBeGreaterThan(8 * MB);
    expect(logs.length).toBeGreaterThan(8 * MB);
    expect(logs.length).toBeLessThan(16 * MB);
    org.handle((req, res) => {
      const body = req.url.startsWith('/api/v1/logs') ? logs : req.url.includes('/00gLarge/') ? large : small;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    expect((await client.listGroupUsers({ groupId: '00gSmall' })).items).toHaveLength(22_000);
    expect((await client.getLogs({ since: '2024-01-01T00:00:00Z' })).items).toHaveLength(36_000);
    const err = await failure(client.listGroupUsers({ groupId: '00gLarge' }));
    expect(err.message).toContain('more than the 8 MB read at most from groups endpoints');
  });

  it('memory stays flat through forty-five 50 MB answers (2.2 GB offered)', async () => {
    await setup();
    let offered = 0;
    const sent: Array<Promise<number>> = [];
    org.handle((_req, res) => {
      offered += 50 * MB;
      sent.push(stream(res, 50 * MB));
    });
    // A few first answers let the heap reach its working size; then it must not grow with the answers.
    for (let i = 0; i < 5; i++) await failure(client.getFactor(U, `warm${i}`));
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    for (let i = 0; i < 40; i++) {
      const err = await failure(client.getFactor(U, `f${i}`));
      expect(err).toBeInstanceOf(OktaProtocolError);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    const carried = (await Promise.all(sent)).reduce((a, b) => a + b, 0);
    expect(offered).toBe(2250 * MB);
    expect(carried).toBeLessThan(offered / 5);
    // Bounded by what V8 lets pile up before it collects (at most ~1 MB per answer until then),
    // not by the answers: one 50 MB answer read whole needs 150 MB (chunks, joined buffer, string).
    expect(peak - baseline).toBeLessThan(100 * MB);
  });
});
