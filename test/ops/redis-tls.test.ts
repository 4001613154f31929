/**
 * Redis over TLS: a redis-server (started by the test) listening on a TLS port with
 * a certificate from a private CA (made with openssl) and asking clients for theirs.
 * Without the CA, or without a client certificate, the command says it is a TLS
 * problem and how to fix it; with --redis-ca, --redis-cert and --redis-key a whole
 * `run` against the simulator goes through it; --redis-tls-insecure is honoured on
 * loopback only.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { enqueueCommand } from '../../src/commands/enqueue.js';
import { runCommand } from '../../src/commands/run.js';
import { FatalRunError } from '../../src/errors.js';
import { createRedis } from '../../src/queue/connection.js';
import { startSimulator } from '../../src/simulator/index.js';
import { buildScenario } from '../helpers/scenario.js';
import { readReportFile } from '../helpers/report.js';
import { useRedisServers } from '../helpers/redis-server.js';
import { quiet, useWorkspace } from '../helpers/workspace.js';

const ws = useWorkspace('redis-tls');
const servers = useRedisServers();

describe('Redis over TLS', () => {
  it('names the TLS problem without the CA or the client certificate, and runs end to end with them', async () => {
    const tls = servers.tlsFiles();
    const redis = await servers.start({ tls: { certFile: tls.serverCert, keyFile: tls.serverKey, caFile: tls.ca, authClients: true } });
    const scenario = buildScenario(ws.dir, { users: 12, scanMs: [50, 200] });
    const base = { redis: redis.tlsUrl!, prefix: ws.prefix };

    const noCa = await enqueueCommand(scenario.inputCsv, base, { env: {}, out: quiet }).catch((e: unknown) => e);
    expect(noCa).toBeInstanceOf(FatalRunError);
    expect((noCa as FatalRunError).message).toMatch(new RegExp(`^Redis is not reachable at ${redis.tlsUrl} \\(.*certificate.*\\)\\.$`));
    expect((noCa as FatalRunError).hint).toMatch(/^A TLS problem: give the CA that signed the server's certificate with --redis-ca/);

    const noClientCert = await enqueueCommand(scenario.inputCsv, { ...base, redisCa: tls.ca }, { env: {}, out: quiet }).catch((e: unknown) => e);
    expect(noClientCert).toBeInstanceOf(FatalRunError);
    expect((noClientCert as FatalRunError).message).toMatch(/^Redis is not reachable at rediss:\/\/localhost:\d+/);
    expect((noClientCert as FatalRunError).hint).toMatch(/a client certificate with --redis-cert and --redis-key when the server asks for one/);

    const token = 'tls-token-0123456789abcdef';
    ws.sim = await startSimulator({ usersCsv: scenario.directoryCsv, activationTtlMs: 1500, rateLimit: 100_000, token });
    const report = join(ws.dir, 'report.csv');
    await runCommand(
      scenario.inputCsv,
      {
        ...base, redisCa: tls.ca, redisCert: tls.clientCert, redisKey: tls.clientKey,
        report, orgUrl: ws.sim.url, rateLimit: '100000', usersRateLimit: '100000', pollInitialMs: '100', logFile: join(ws.dir, 'run.log'), logLevel: 'error',
      },
      { env: { OKTA_API_TOKEN: token }, out: quiet },
    );
    expect(readReportFile(report).map((r) => r.outcome)).toEqual(scenario.expected.map((e) => e.outcome));
    // The run is in that server (reached here through its plain port).
    const plain = createRedis(redis.url);
    expect(await plain.exists(`${ws.prefix}:be:runs`)).toBe(1);
    plain.disconnect();
  });

  it('--redis-tls-insecure reaches a loopback TLS port without the CA', async () => {
    const tls = servers.tlsFiles();
    const redis = await servers.start({ tls: { certFile: tls.serverCert, keyFile: tls.serverKey, caFile: tls.ca } });
    const file = join(ws.dir, 'one.csv');
    writeFileSync(file, 'userId,factorType,provider\n00u00000000000000001,push,OKTA\n');
    const out: string[] = [];
    await enqueueCommand(file, { redis: redis.tlsUrl!, prefix: ws.prefix, redisTlsInsecure: true }, { env: {}, out: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream });
    expect(out.join('')).toContain('1 rows (0 invalid) queued');
  });
});
