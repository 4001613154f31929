/**
 * The metrics and health HTTP server of a `worker` or `run`: GET /metrics (Prometheus
 * text format) and GET /healthz (JSON, 200 or 503), on --metrics-port, bound to loopback
 * unless --metrics-host says otherwise. Nothing else is served and nothing can be changed
 * through it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCollector } from './collector.js';
import { checkHealth } from './health.js';
import type { MetricsSource } from './source.js';

export interface MetricsServer {
  /** http://host:port (the port actually bound, also with port 0). */
  readonly url: string;
  readonly port: number;
  /** Start answering from this source; until then both endpoints answer 503 "starting". */
  attach(source: MetricsSource): void;
  close(): Promise<void>;
}

/** The port could not be bound: a clear sentence naming the flag. */
export class MetricsListenError extends Error {}

export interface MetricsServerOptions {
  /** Can also be attached later (the server is started before the runtime, so a bad port fails first). */
  source?: MetricsSource;
  port: number;
  host: string;
  version: string;
  /** Errors while answering a scrape (the scrape gets a 500). */
  onError?: (err: Error) => void;
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  let source: MetricsSource | undefined;
  let collector: ReturnType<typeof createCollector> | undefined;
  const attach = (s: MetricsSource) => {
    collector?.stop();
    source = s;
    collector = createCollector(s, { version: opts.version });
  };
  if (opts.source) attach(opts.source);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Only GET and HEAD are served here.\n');
      return;
    }
    if ((path === '/metrics' || path === '/healthz') && (!source || !collector)) {
      const body = { status: 'unavailable', reason: 'starting: connecting to Redis and starting the workers', shuttingDown: false };
      res.writeHead(503, { 'content-type': 'application/json', 'cache-control': 'no-store', 'retry-after': '1' }).end(`${JSON.stringify(body)}\n`);
      return;
    }
    if (path === '/metrics' && collector) {
      await collector.update();
      const body = await collector.registry.metrics();
      res.writeHead(200, { 'content-type': collector.registry.contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === '/healthz' && source) {
      const h = await checkHealth(source);
      res.writeHead(h.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : `${JSON.stringify(h)}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found. This server answers GET /metrics and GET /healthz.\n');
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      opts.onError?.(err as Error);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('Could not collect the metrics; see the process log.\n');
    });
  });
  // Scrapers keep connections open: never let them hold up a stop.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => reject(new MetricsListenError(listenProblem(opts.host, opts.port, err)));
    server.once('error', failed);
    server.listen(opts.port, opts.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shownHost}:${addr.port}`,
    port: addr.port,
    attach,
    close: async () => {
      collector?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function listenProblem(host: string, port: number, err: NodeJS.ErrnoException): string {
  const where = `--metrics-port ${port} / --metrics-host ${host}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return `${where}: the port is already in use (another worker on this machine? give each its own port, or 0 for any free one)`;
    case 'EACCES':
      return `${where}: not allowed to listen there (ports below 1024 need privileges; use e.g. 9464)`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${where}: this machine has no such address (use 127.0.0.1, 0.0.0.0 or one of its own addresses)`;
    default:
      return `${where}: cannot listen (${err.code ?? err.message})`;
  }
}
