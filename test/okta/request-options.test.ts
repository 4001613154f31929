/**
 * RequestOptions.signal against a real server: a request still waiting for its permit
 * is dropped without leaving (the gate is handed the signal), one in flight is aborted,
 * one waiting for credentials is dropped; each throws RequestAbortedError whose
 * maybeProcessed says whether it had been dispatched. The request timeout still works
 * beside a signal.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sswsAuth } from '../../src/okta/auth-ssws.js';
import { createOktaClient } from '../../src/okta/client.js';
import { OktaNetworkError, RequestAbortedError } from '../../src/okta/errors.js';
import type { AuthProvider, Bucket, OktaClient, OktaClientOptions, RequestGate } from '../../src/okta/types.js';
import { json, startCannedServer, type CannedServer } from './helpers/canned-server.js';
import { failure } from './helpers/failure.js';

const U = '00u15s1KDETTQMQYABRL';
const TOKEN = '00abortTestToken000000000000';

let org: CannedServer;
let client: OktaClient | undefined;
beforeEach(async () => {
  org = await startCannedServer((_req, res) => json(res, 200, { id: U, profile: { login: 'a@b.c' } }));
});
afterEach(async () => {
  await client?.close();
  client = undefined;
  await org.close();
});

function makeClient(extra: Partial<OktaClientOptions> = {}): OktaClient {
  client = createOktaClient({ orgUrl: org.origin, auth: sswsAuth(TOKEN), ...extra });
  return client;
}


/** A gate with one permit, held until release(); waiting requests honour their signal as the contract says. */
function onePermitGate(): RequestGate & { release(): void; held: Promise<void>; signals: Array<AbortSignal | undefined>; ran: Bucket[] } {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const gate = {
    signals: [] as Array<AbortSignal | undefined>,
    ran: [] as Bucket[],
    held,
    release,
    async run<T>(bucket: Bucket, fn: () => Promise<T>, opts?: { signal?: AbortSignal }): Promise<T> {
      gate.signals.push(opts?.signal);
      const signal = opts?.signal;
      await new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const onAbort = () => reject(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        void held.then(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
      gate.ran.push(bucket);
      return fn();
    },
  };
  return gate;
}

describe('RequestOptions.signal', () => {
  it('in flight: the request is aborted at once, maybeProcessed (Okta may have acted), the reason kept', async () => {
    let arrived!: () => void;
    const atServer = new Promise<void>((r) => (arrived = r));
    org.handle(() => arrived()); // never answers
    const c = makeClient();
    const controller = new AbortController();
    const pending = failure(c.enrollFactor(U, { factorType: 'push', provider: 'OKTA' }, { signal: controller.signal }));
    await atServer;
    const started = Date.now();
    controller.abort(new Error('lost the job lock'));
    const err = await pending;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err).toBeInstanceOf(RequestAbortedError);
    expect(err).toMatchObject({ method: 'POST', path: `/api/v1/users/${U}/factors`, maybeProcessed: true });
    expect((err as RequestAbortedError).reason).toBeInstanceOf(Error);
    expect(err.message).toBe(`POST /api/v1/users/${U}/factors: dropped (lost the job lock)`);
  });

  it('waiting for a permit: the gate gets the signal, the request is dropped and never leaves (maybeProcessed false)', async () => {
    const gate = onePermitGate();
    const c = makeClient({ gate });
    const controller = new AbortController();
    const pending = failure(c.getUser(U, { signal: controller.signal }));
    await new Promise((r) => setTimeout(r, 20));
    expect(gate.signals[0]).toBe(controller.signal);
    controller.abort();
    const err = await pending;
    expect(err).toBeInstanceOf(RequestAbortedError);
    expect((err as RequestAbortedError).maybeProcessed).toBe(false);
    gate.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(gate.ran).toEqual([]);
    expect(org.requests).toHaveLength(0);
    // without a signal the gate is not handed one, and the request goes once released
    expect((await c.getUser(U)).id).toBe(U);
    expect(gate.signals[1]).toBeUndefined();
  });

  it('an already aborted signal sends nothing, with or without a gate', async () => {
    const controller = new AbortController();
    controller.abort();
    const c = makeClient();
    const err = await failure(c.listFactors(U, { signal: controller.signal }));
    expect(err).toBeInstanceOf(RequestAbortedError);
    expect((err as RequestAbortedError).maybeProcessed).toBe(false);
    expect(org.requests).toHaveLength(0);
  });

  it('waiting for credentials (a slow token endpoint): dropped, nothing sent', async () => {
    let calls = 0;
    const slowAuth: AuthProvider = {
      kind: 'oauth',
      headers: () => {
        calls++;
        return new Promise((r) => setTimeout(() => r({ authorization: 'Bearer late-token-000000' }), 2000));
      },
      secrets: () => [],
    };
    const c = makeClient({ auth: slowAuth });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const started = Date.now();
    const err = await failure(c.getUser(U, { signal: controller.signal }));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(err).toMatchObject({ name: 'RequestAbortedError', maybeProcessed: false });
    expect(calls).toBe(1);
    expect(org.requests).toHaveLength(0);
  });

  it('a body that stalls is aborted too; the timeout still applies beside a signal', async () => {
    org.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"id":');
    });
    const c = makeClient({ timeoutMs: 400 });
    const controller = new AbortController();
    const pending = failure(c.getFactor(U, 'f1', { signal: controller.signal }));
    setTimeout(() => controller.abort(), 100);
    expect(await pending).toMatchObject({ name: 'RequestAbortedError', maybeProcessed: true });
    const timedOut = await failure(c.getFactor(U, 'f1', { signal: new AbortController().signal }));
    expect(timedOut).toBeInstanceOf(OktaNetworkError);
    expect((timedOut as OktaNetworkError).maybeProcessed).toBe(true);
  });
});
