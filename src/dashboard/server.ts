/**
 * The dashboard: bull-board over the project's queues (`enroll`, `poll` under the
 * configured prefix) at /queues, and the runs at / and /runs/<id>, with each run's
 * report CSV generated on the fly from Redis. Read-only unless allowActions (bull-board's
 * readOnlyMode: no retry, clean, pause or remove). Access rules: src/dashboard/access.ts.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import { stringify } from 'csv-stringify';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import { createRedis } from '../queue/connection.js';
import type { RedisSettings } from '../redis/settings.js';
import { isValidRunId, QUEUES } from '../runs/keys.js';
import { reportRows } from '../runs/report-rows.js';
import { RunStore } from '../runs/store.js';
import { neutraliseCell, REPORT_COLUMNS } from '../csv/report.js';
import { basicAuth, exposureProblems, type Credentials } from './access.js';
import { renderRunList, renderRunPage, type RunView } from './pages.js';

export interface DashboardOptions {
  redisUrl: string;
  /** TLS / Sentinel settings (default: the plain redisUrl). */
  redisSettings?: RedisSettings;
  prefix: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 3000; 0 picks a free port. */
  port?: number;
  credentials?: Credentials;
  /** PEM certificate chain and key: serve HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** The operator says a TLS proxy fronts this server (plain HTTP behind it). */
  behindTlsProxy?: boolean;
  /** Let bull-board retry, clean, pause and remove jobs. Default false (read-only). */
  allowActions?: boolean;
  logger?: Logger;
  /** Runs listed on the front page (most recent first). Default 50. */
  listRuns?: number;
}

export interface DashboardHandle {
  /** http(s)://host:port */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

async function runView(store: RunStore, runId: string): Promise<RunView | undefined> {
  const [meta, c] = await Promise.all([store.getMeta(runId), store.counts(runId)]);
  if (!meta) return undefined;
  return {
    runId,
    state: meta.state,
    source: meta.fileName ?? meta.file ?? '',
    command: meta.command,
    createdAt: meta.createdAt,
    ...(meta.finishedAt ? { finishedAt: meta.finishedAt } : {}),
    ...(meta.total !== undefined ? { total: meta.total } : {}),
    stored: meta.stored,
    ...c,
  };
}

const asyncRoute = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
  fn(req, res).catch(next);
};

export async function startDashboard(opts: DashboardOptions): Promise<DashboardHandle> {
  const host = opts.host ?? '127.0.0.1';
  const problems = exposureProblems({ host, credentials: opts.credentials, tls: Boolean(opts.tls), behindTlsProxy: opts.behindTlsProxy });
  if (problems.length) throw new ConfigError(problems);

  const redis = createRedis(opts.redisSettings ?? opts.redisUrl);
  const store = new RunStore(redis, opts.prefix);
  const queues = [QUEUES.enroll, QUEUES.poll].map((name) => new Queue(name, { connection: redis, prefix: opts.prefix }));
  for (const q of queues) q.on('error', (err) => opts.logger?.debug('dashboard queue error', { error: err.message }));

  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/queues');
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: !opts.allowActions, allowRetries: Boolean(opts.allowActions) })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'bulk-enroll' } },
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use((_req, res, next) => {
    res.set({ 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY', 'Cache-Control': 'no-store' });
    next();
  });
  if (opts.credentials) app.use(basicAuth(opts.credentials));
  const ownPageHeaders = (res: Response) => res.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");

  app.get(
    '/',
    asyncRoute(async (_req, res) => {
      const ids = await store.listRuns(opts.listRuns ?? 50);
      const views = (await Promise.all(ids.map((id) => runView(store, id)))).filter((v): v is RunView => Boolean(v));
      ownPageHeaders(res);
      res.type('html').send(renderRunList(opts.prefix, views));
    }),
  );
  app.get(
    '/api/runs',
    asyncRoute(async (_req, res) => {
      const ids = await store.listRuns(opts.listRuns ?? 50);
      res.json((await Promise.all(ids.map((id) => runView(store, id)))).filter(Boolean));
    }),
  );
  const findRun = async (req: Request, res: Response): Promise<RunView | undefined> => {
    const runId = String(req.params.runId ?? '');
    const view = isValidRunId(runId) ? await runView(store, runId) : undefined;
    if (!view) res.status(404).type('text/plain').send(`No run ${runId.slice(0, 80)} under prefix ${opts.prefix}.\n`);
    return view;
  };
  app.get(
    '/runs/:runId',
    asyncRoute(async (req, res) => {
      const view = await findRun(req, res);
      if (!view) return;
      ownPageHeaders(res);
      res.type('html').send(renderRunPage(view));
    }),
  );
  app.get(
    '/runs/:runId/report.csv',
    asyncRoute(async (req, res) => {
      const view = await findRun(req, res);
      if (!view) return;
      res.set({ 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="${view.runId}-report.csv"` });
      // Cells are neutralised against CSV injection exactly as in a report written by `run`.
      const rows = Readable.from(
        (async function* () {
          for await (const r of reportRows(store, view.runId)) yield REPORT_COLUMNS.map((c) => neutraliseCell(r[c].replace(/\u0000/g, '\ufffd')));
        })(),
      );
      await pipeline(rows, stringify({ header: true, columns: REPORT_COLUMNS.map((c) => neutraliseCell(c)), record_delimiter: 'unix', quoted_match: /\r/ }), res);
    }),
  );
  app.use('/queues', serverAdapter.getRouter());
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    opts.logger?.warn('dashboard request failed', { error: err.message });
    if (!res.headersSent) res.status(500).type('text/plain').send('The dashboard could not answer (see its log).\n');
    else res.destroy();
  });

  const server: Server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, app) : createHttpServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 3000, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  let closed = false;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${shownHost}:${port}`,
    host,
    port,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      await Promise.all(queues.map((q) => q.close().catch(() => undefined)));
      redis.disconnect();
    },
  };
}
