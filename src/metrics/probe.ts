#!/usr/bin/env node
/**
 * Health probe for container health checks where no curl is installed (Docker's
 * HEALTHCHECK, compose): `node dist/src/metrics/probe.js [url]` asks the worker's
 * /healthz and exits 0 on 200, 1 otherwise, printing the answer or why there was none.
 * Without a URL it asks http://127.0.0.1:$BULK_ENROLL_METRICS_PORT/healthz (default
 * port 9464; BULK_ENROLL_METRICS_HOST when it names one address). `--basic-auth` signs
 * in with BULK_ENROLL_DASHBOARD_USER / _PASSWORD (the dashboard's health check). Imports
 * nothing of the application, so it starts in a few tens of milliseconds.
 */
import { get } from 'node:http';

const DEFAULT_METRICS_PORT = 9464;

function probeUrl(env: NodeJS.ProcessEnv): string {
  const port = env.BULK_ENROLL_METRICS_PORT?.trim() || String(DEFAULT_METRICS_PORT);
  const host = env.BULK_ENROLL_METRICS_HOST?.trim();
  // A wildcard bind is reached through loopback.
  const target = !host || host === '0.0.0.0' || host === '::' || host === '[::]' ? '127.0.0.1' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${target}:${port}/healthz`;
}

function probe(url: string, headers: Record<string, string>, timeoutMs = 3000): Promise<{ ok: boolean; message: string }> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: timeoutMs, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ ok: res.statusCode === 200, message: `${res.statusCode ?? '?'} ${body.trim().slice(0, 500)}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, message: `${url}: ${err.code ?? err.message}` }));
  });
}

const args = process.argv.slice(2);
const url = args.find((a) => !a.startsWith('--')) ?? probeUrl(process.env);
const headers: Record<string, string> = {};
if (args.includes('--basic-auth')) {
  const user = process.env.BULK_ENROLL_DASHBOARD_USER ?? '';
  const password = process.env.BULK_ENROLL_DASHBOARD_PASSWORD ?? '';
  headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
const r = await probe(url, headers);
process.stdout.write(`${r.message}\n`);
process.exitCode = r.ok ? 0 : 1;
