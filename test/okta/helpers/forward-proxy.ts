/**
 * A small real forward proxy on 127.0.0.1:0, as corporate networks have them: CONNECT
 * tunnels (for https://) and plain-HTTP forwarding of absolute-URI requests (for http://).
 * It records what it carried, can demand credentials (407), and resolves host names
 * through `hosts` (so an org called okta.test, which no DNS knows, is reachable only
 * through the proxy, as a remote org is from a closed network).
 * Each test closes it (and every socket it holds) in afterEach.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface ProxiedRequest {
  kind: 'forward' | 'connect';
  /** host:port asked for. */
  target: string;
  /** Forwarded requests: method and absolute URI. */
  method?: string;
  url?: string;
  /** The request headers the proxy saw (a tunnel's: the CONNECT's only). */
  headers: IncomingHttpHeaders;
}

export interface ForwardProxy {
  /** http://127.0.0.1:<port>, or https://localhost:<port> with `tls` */
  url: string;
  port: number;
  requests: ProxiedRequest[];
  /** Bytes the proxy carried back to its clients (answers, through tunnels too). */
  readonly bytesToClients: number;
  close(): Promise<void>;
}

export interface ForwardProxyOptions {
  /** Host name → address the proxy connects to (default: the name itself). */
  hosts?: Record<string, string>;
  /** When set, requests must carry exactly this Proxy-Authorization, else 407. */
  requireAuthorization?: string;
  /** An https:// proxy (TLS between client and proxy) with this key and certificate. */
  tls?: { key: string; cert: string };
}

function splitHostPort(target: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(target);
  return { host: m?.[1] ?? target, port: m?.[2] ? Number(m[2]) : defaultPort };
}

export async function startForwardProxy(opts: ForwardProxyOptions = {}): Promise<ForwardProxy> {
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  let bytesToClients = 0;
  const resolve = (host: string): string => opts.hosts?.[host] ?? host;
  const allowed = (headers: IncomingHttpHeaders): boolean =>
    opts.requireAuthorization === undefined || headers['proxy-authorization'] === opts.requireAuthorization;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute URI expected');
      return;
    }
    requests.push({ kind: 'forward', target: target.host, method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (!allowed(req.headers)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test-proxy"', 'content-length': '0' }).end();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const upstream = httpRequest(
      { host: resolve(target.hostname), port: Number(target.port) || 80, method: req.method, path: `${target.pathname}${target.search}`, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.on('data', (chunk: Buffer) => {
          bytesToClients += chunk.length;
        });
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end('upstream failed');
      else res.destroy();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };
  const server: Server = opts.tls ? createTlsServer({ key: opts.tls.key, cert: opts.tls.cert }, onRequest) : createServer(onRequest);

  server.on('connect', (req, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const target = req.url ?? '';
    requests.push({ kind: 'connect', target, headers: req.headers });
    if (!allowed(req.headers)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test-proxy"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const { host, port } = splitHostPort(target, 443);
    const upstream = connect(port, resolve(host), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.on('data', (chunk: Buffer) => {
        bytesToClients += chunk.length;
      });
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
    client.on('close', () => upstream.destroy());
  });
  server.on(opts.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: opts.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    port,
    requests,
    get bytesToClients() {
      return bytesToClients;
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
