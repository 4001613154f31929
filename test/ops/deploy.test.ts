/**
 * The hosting files, checked without a Docker engine or a cluster (neither is on this
 * machine): the Dockerfile (linted with dockerfile-utils, then its stages, user, health
 * check and entry point), .dockerignore, docker-compose.yml (parsed: services, env_file,
 * volumes, health checks, grace periods against the close timeout), the systemd unit and
 * the Kubernetes manifest (parsed: non-root, probes on /healthz, grace above the close
 * timeout, the token from a Secret), and samples/.env.example against every environment
 * variable the code reads. The health probe the image runs is run here against a real
 * /healthz.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import yaml from 'js-yaml';
import { validate } from 'dockerfile-utils';
import { afterEach, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { DEFAULT_CLOSE_TIMEOUT_MS } from '../../src/shutdown.js';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server.js';
import { settingEnvNames } from '../../src/settings/docs.js';

const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

interface Instruction {
  stage: number;
  keyword: string;
  args: string;
}

/** Dockerfile instructions with their stage (continuation lines joined, comments dropped). */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  const joined = text.replace(/\\\n/g, ' ');
  for (const raw of joined.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    if (keyword === 'FROM') stage++;
    out.push({ stage, keyword, args: m[2]!.replace(/\s+/g, ' ').trim() });
  }
  return out;
}

it('Dockerfile: lints clean; build stage with dev dependencies, runtime stage node:20-bookworm-slim with production ones, non-root, health check on /healthz', () => {
  const text = read('Dockerfile');
  const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
  expect(problems).toEqual([]);

  const ins = instructions(text);
  const from = ins.filter((i) => i.keyword === 'FROM');
  expect(from.map((f) => f.args)).toEqual(['node:20-bookworm-slim AS build', 'node:20-bookworm-slim AS runtime']);
  const build = ins.filter((i) => i.stage === 0);
  const runtime = ins.filter((i) => i.stage === 1);
  // build: every dependency (tsc is a dev dependency), then the compiled output
  expect(build.find((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))?.args).not.toMatch(/--omit=dev|--production/);
  expect(build.some((i) => i.keyword === 'RUN' && /tsc -p tsconfig\.build\.json/.test(i.args))).toBe(true);
  // runtime: production dependencies only, the compiled code from the build stage
  expect(runtime.find((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))?.args).toMatch(/--omit=dev/);
  expect(runtime.some((i) => i.keyword === 'COPY' && /--from=build \/app\/dist/.test(i.args))).toBe(true);
  expect(runtime.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
  // the last USER of the runtime stage is not root, and comes before the entry point
  const users = runtime.filter((i) => i.keyword === 'USER');
  expect(users.length).toBeGreaterThan(0);
  expect(users[users.length - 1]!.args).not.toMatch(/^(root|0)(:|$)/);
  const hc = runtime.find((i) => i.keyword === 'HEALTHCHECK')!;
  expect(hc.args).toMatch(/CMD \["node", "dist\/src\/metrics\/probe\.js"\]/);
  // the probe it runs is compiled from a file that exists, and the metrics port it asks is served
  expect(statSync(join(ROOT, 'src/metrics/probe.ts')).isFile()).toBe(true);
  const env = runtime.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
  expect(env).toMatch(/BULK_ENROLL_METRICS_PORT=9464/);
  expect(env).toMatch(/BULK_ENROLL_METRICS_HOST=0\.0\.0\.0/);
  expect(runtime.find((i) => i.keyword === 'EXPOSE')?.args).toBe('9464');
  expect(runtime.find((i) => i.keyword === 'ENTRYPOINT')?.args).toBe('["node", "dist/src/cli.js"]');
  expect(runtime.find((i) => i.keyword === 'CMD')?.args).toBe('["worker"]');
  // what the COPY instructions name exists in the build context
  for (const c of ins.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))) {
    for (const src of c.args.split(' ').slice(0, -1)) expect(statSync(join(ROOT, src)), src).toBeTruthy();
  }
});

it('.dockerignore keeps node_modules, reports, logs, .env and .git out of the build context', () => {
  const lines = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const p of ['node_modules', 'reports', 'logs', '.env', '.git', 'dist']) expect(lines, p).toContain(p);
  // nothing the image needs is ignored
  for (const needed of ['src', 'jobs', 'samples', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', '.npmrc']) expect(lines).not.toContain(needed);
});

type Service = {
  build?: unknown;
  image?: string;
  env_file?: unknown;
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  stop_grace_period?: string;
  user?: string;
  command?: string[];
  profiles?: string[];
};

it('docker-compose.yml: built from the Dockerfile, env_file .env, named volumes for reports and logs, a health check for every service, Redis with AOF and noeviction', () => {
  const doc = yaml.load(read('docker-compose.yml')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const s = doc.services;
  expect(Object.keys(s).sort()).toEqual(['cli', 'dashboard', 'redis', 'simulator', 'worker']);
  for (const name of ['worker', 'simulator', 'dashboard', 'cli']) {
    expect(s[name]!.build, name).toBe('.');
    expect(s[name]!.env_file, name).toBe('.env');
    expect(s[name]!.volumes, name).toEqual(expect.arrayContaining(['reports:/app/reports', 'logs:/app/logs']));
    // the image's non-root user is kept
    expect(s[name]!.user, name).toBeUndefined();
  }
  expect(Object.keys(doc.volumes).sort()).toEqual(['logs', 'redis-data', 'reports']);

  const redisCmd = s.redis!.command!.join(' ');
  expect(redisCmd).toMatch(/--appendonly yes/);
  expect(redisCmd).toMatch(/--maxmemory-policy noeviction/);
  expect(s.redis!.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
  expect(s.worker!.healthcheck!.test).toEqual(['CMD', 'node', 'dist/src/metrics/probe.js']);
  expect(s.simulator!.healthcheck!.test).toEqual(['CMD', 'node', 'dist/src/metrics/probe.js', 'http://127.0.0.1:8080/__sim/stats']);
  expect(s.simulator!.command).toEqual(expect.arrayContaining(['--port', '8080']));
  expect(s.dashboard!.healthcheck!.test).toEqual(['CMD', 'node', 'dist/src/metrics/probe.js', 'http://127.0.0.1:3000/', '--basic-auth']);
  expect(s.dashboard!.command).toEqual(expect.arrayContaining(['--port', '3000']));
  // one-off commands: no health check on purpose
  expect(s.cli!.healthcheck).toEqual({ disable: true });

  // The worker's stop fits its grace period.
  const closeMs = Number(/:-(\d+)\}$/.exec(s.worker!.environment!.BULK_ENROLL_CLOSE_TIMEOUT_MS ?? '')?.[1] ?? DEFAULT_CLOSE_TIMEOUT_MS);
  expect(closeMs).toBe(DEFAULT_CLOSE_TIMEOUT_MS);
  expect(Number(/^(\d+)s$/.exec(s.worker!.stop_grace_period!)?.[1]) * 1000).toBeGreaterThan(closeMs);
});

it('systemd unit: non-root, EnvironmentFile, Restart, SIGTERM, TimeoutStopSec above the close timeout', () => {
  const unit = read('samples/deploy/bulk-enroll-worker.service');
  const sections = new Map<string, Map<string, string[]>>();
  let current = '';
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      current = sec[1]!;
      sections.set(current, new Map());
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    expect(kv, `not a key=value line in [${current}]: ${line}`).not.toBeNull();
    const m = sections.get(current)!;
    m.set(kv![1]!, [...(m.get(kv![1]!) ?? []), kv![2]!]);
  }
  const svc = sections.get('Service')!;
  const one = (k: string) => svc.get(k)?.[0];
  expect([...sections.keys()]).toEqual(['Unit', 'Service', 'Install']);
  expect(one('User')).toBeTruthy();
  expect(one('User')).not.toBe('root');
  expect(one('EnvironmentFile')).toMatch(/^\//);
  expect(one('Restart')).toBe('on-failure');
  expect(one('KillSignal')).toBe('SIGTERM');
  expect(one('ExecStart')).toMatch(/dist\/src\/cli\.js worker$/);
  const closeMs = Number(svc.get('Environment')!.map((e) => /^BULK_ENROLL_CLOSE_TIMEOUT_MS=(\d+)$/.exec(e)?.[1]).find(Boolean));
  expect(closeMs).toBe(DEFAULT_CLOSE_TIMEOUT_MS);
  expect(Number(one('TimeoutStopSec')) * 1000).toBeGreaterThan(closeMs);
  expect(Number(one('TimeoutStopSec')) * 1000).toBeLessThanOrEqual(closeMs + 10_000);
  // a configuration error (exit 2) is not restarted in a loop
  expect(one('RestartPreventExitStatus')).toBe('2');
  expect(sections.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
  // systemd-analyze verify, where systemd is installed (not in this container).
  const verify = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (verify.status === 0) expect(spawnSync('systemd-analyze', ['verify', '--man=no', join(ROOT, 'samples/deploy/bulk-enroll-worker.service')]).status).toBe(0);
});

type K8sDoc = { kind: string; metadata: { name: string }; stringData?: Record<string, string>; data?: Record<string, string>; spec?: Record<string, unknown> };

it('Kubernetes manifest: a Deployment of non-root workers probed on /healthz, grace above the close timeout, the token from a Secret, resources', () => {
  const docs = yaml.loadAll(read('samples/deploy/kubernetes.yaml')) as K8sDoc[];
  expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Secret', 'Service']);
  const secret = docs.find((d) => d.kind === 'Secret')!;
  const config = docs.find((d) => d.kind === 'ConfigMap')!;
  const dep = docs.find((d) => d.kind === 'Deployment')! as K8sDoc & {
    spec: {
      template: {
        spec: {
          terminationGracePeriodSeconds: number;
          securityContext: { runAsNonRoot: boolean; runAsUser: number };
          containers: Array<{
            args: string[];
            envFrom: Array<{ secretRef?: { name: string }; configMapRef?: { name: string } }>;
            ports: Array<{ name: string; containerPort: number }>;
            livenessProbe: { httpGet: { path: string; port: string } };
            readinessProbe: { httpGet: { path: string; port: string } };
            resources: { requests: Record<string, string>; limits: Record<string, string> };
            securityContext: { allowPrivilegeEscalation: boolean };
          }>;
        };
      };
    };
  };
  expect(Object.keys(secret.stringData ?? {})).toEqual(['OKTA_API_TOKEN']);
  // the token is never in the ConfigMap
  expect(Object.keys(config.data!).filter((k) => /TOKEN|PASSWORD|PRIVATE_KEY/.test(k))).toEqual([]);
  const pod = dep.spec.template.spec;
  const c = pod.containers[0]!;
  expect(c.args).toEqual(['worker']);
  expect(c.envFrom.map((e) => e.secretRef?.name ?? e.configMapRef?.name).sort()).toEqual([config.metadata.name, secret.metadata.name].sort());
  const port = c.ports.find((p) => p.name === 'metrics')!;
  expect(port.containerPort).toBe(Number(config.data!.BULK_ENROLL_METRICS_PORT));
  expect(config.data!.BULK_ENROLL_METRICS_HOST).toBe('0.0.0.0');
  for (const probe of [c.livenessProbe, c.readinessProbe]) expect(probe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
  const closeMs = Number(config.data!.BULK_ENROLL_CLOSE_TIMEOUT_MS);
  expect(closeMs).toBe(DEFAULT_CLOSE_TIMEOUT_MS);
  expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(closeMs);
  expect(pod.securityContext.runAsNonRoot).toBe(true);
  expect(pod.securityContext.runAsUser).not.toBe(0);
  expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
  expect(Object.keys(c.resources.requests).sort()).toEqual(['cpu', 'memory']);
  expect(Object.keys(c.resources.limits).sort()).toEqual(['cpu', 'memory']);
  // every configuration key is one the code reads
  const known = envNamesInCode();
  expect(Object.keys({ ...config.data, ...secret.stringData }).filter((k) => !known.has(k))).toEqual([]);
});

// ---- samples/.env.example against the code -----------------------------------------------

/** Set by the operating system, not configuration (the manifest's operator name). */
const FROM_THE_SYSTEM = new Set(['USER', 'USERNAME']);
/** Read by the OpenTelemetry SDK itself; listed in the example for those who trace. */
const READ_BY_THE_OTEL_SDK = new Set(['OTEL_SERVICE_NAME', 'OTEL_RESOURCE_ATTRIBUTES', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every environment variable src/ and jobs/ read: `env.NAME`, `env['NAME']`, and config's pick(…, 'NAME'). */
function envNamesInCode(): Set<string> {
  const names = new Set<string>();
  for (const f of [...sourceFiles(join(ROOT, 'src')), ...sourceFiles(join(ROOT, 'jobs'))]) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/\benv\??\.([A-Z][A-Z0-9_]+)\b/g)) names.add(m[1]!);
    for (const m of text.matchAll(/\benv\[\s*['"`]([A-Z][A-Z0-9_]+)['"`]\s*\]/g)) names.add(m[1]!);
    // The settings table's reader (src/settings/define.ts) reads by a computed name: the table's names are added below.
    if (f.endsWith(join('settings', 'define.ts'))) continue;
    // The proxy variables are read by their names in both cases (HTTPS_PROXY, https_proxy, …): the settings table lists them.
    if (f.endsWith(join('okta', 'proxy.ts'))) continue;
    if (/\benv\[\s*[a-z]/.test(text)) throw new Error(`${relative(ROOT, f)} reads an environment variable by a computed name: teach this test its names`);
  }
  for (const n of settingEnvNames()) names.add(n);
  for (const n of FROM_THE_SYSTEM) names.delete(n);
  return names;
}

function envNamesInExample(): Set<string> {
  return new Set([...read('samples/.env.example').matchAll(/^#?\s?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
}

it('samples/.env.example lists every environment variable the code reads, and nothing else', () => {
  const code = envNamesInCode();
  const example = envNamesInExample();
  // the scan itself finds what it must (a guard against a regex that matches nothing)
  for (const n of ['OKTA_ORG_URL', 'OKTA_API_TOKEN', 'REDIS_URL', 'BULK_ENROLL_RATE_LIMIT', 'BULK_ENROLL_METRICS_PORT', 'BULK_ENROLL_LOG_FORMAT', 'BULK_ENROLL_CLOSE_TIMEOUT_MS', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'BULK_ENROLL_DASHBOARD_PASSWORD']) {
    expect(code.has(n), n).toBe(true);
  }
  expect([...code].filter((n) => !example.has(n)).sort()).toEqual([]);
  expect([...example].filter((n) => !code.has(n) && !READ_BY_THE_OTEL_SDK.has(n)).sort()).toEqual([]);
});

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it("the image's health probe exits 0 on a 200 from /healthz and 1 on a 503 or no answer, with the reason", async () => {
  // A server that has no runtime attached answers 503 "starting": the probe must fail on it.
  server = await startMetricsServer({ port: 0, host: '127.0.0.1', version: 'test' });
  // Asynchronously: the servers answering it live in this process.
  const probe = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ status: number | null; stdout: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'src/metrics/probe.ts'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 }, (err, stdout) =>
        resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
  const starting = await probe([], { BULK_ENROLL_METRICS_PORT: String(server.port), BULK_ENROLL_METRICS_HOST: '0.0.0.0' });
  expect(starting.status).toBe(1);
  expect(starting.stdout).toMatch(/^503 .*starting/);
  const ok = await import('node:http').then(
    ({ createServer }) =>
      new Promise<{ url: string; close: () => void }>((resolve) => {
        const s = createServer((req, res) => res.writeHead(req.headers.authorization === `Basic ${Buffer.from('ops:pw-12345678').toString('base64')}` ? 200 : 401).end('fine'));
        s.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(s.address() as { port: number }).port}/`, close: () => s.close() }));
      }),
  );
  try {
    const signedIn = await probe([ok.url, '--basic-auth'], { BULK_ENROLL_DASHBOARD_USER: 'ops', BULK_ENROLL_DASHBOARD_PASSWORD: 'pw-12345678' });
    expect(signedIn.status).toBe(0);
    expect(signedIn.stdout.trim()).toBe('200 fine');
    expect((await probe([ok.url])).status).toBe(1);
  } finally {
    ok.close();
  }
  await server.close();
  const gone = await probe([], { BULK_ENROLL_METRICS_PORT: String(server.port) });
  server = undefined;
  expect(gone.status).toBe(1);
  expect(gone.stdout).toContain('ECONNREFUSED');
});
