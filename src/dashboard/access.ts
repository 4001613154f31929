/**
 * Who may open the dashboard. On a loopback address (the default, 127.0.0.1) only
 * people on the machine can reach it. Bound anywhere else it shows every run's users
 * and job data to the network, so it starts only with credentials (HTTP basic auth,
 * from BULK_ENROLL_DASHBOARD_USER / _PASSWORD or a credentials file) and with TLS
 * (--tls-cert / --tls-key) or the operator's statement that a TLS proxy fronts it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import type { NextFunction, Request, Response } from 'express';

export interface Credentials {
  user: string;
  password: string;
}

export interface Exposure {
  host: string;
  credentials?: Credentials;
  tls?: boolean;
  behindTlsProxy?: boolean;
}

/** 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '::ffff:127.0.0.1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** Problems that stop the dashboard from starting, each as one sentence. */
export function exposureProblems(e: Exposure): string[] {
  if (isLoopback(e.host)) return [];
  const problems: string[] = [];
  if (!e.credentials) {
    problems.push(
      `--host ${e.host}: a dashboard reachable from other machines needs credentials; expected BULK_ENROLL_DASHBOARD_USER and BULK_ENROLL_DASHBOARD_PASSWORD or --credentials-file, got none`,
    );
  }
  if (!e.tls && !e.behindTlsProxy) {
    problems.push(
      `--host ${e.host}: a dashboard reachable from other machines needs TLS; expected --tls-cert and --tls-key, or --behind-tls-proxy when a TLS proxy fronts it, got neither`,
    );
  }
  return problems;
}

/**
 * Credentials from a file (`user:password` on its first line) or from the environment.
 * Returns problems instead of throwing, so they are listed with the other flags'.
 */
export function loadCredentials(
  opts: { file?: string; env: NodeJS.ProcessEnv; warn?: (m: string) => void },
): { credentials?: Credentials; problems: string[] } {
  const problems: string[] = [];
  if (opts.file) {
    let text: string;
    try {
      const st = statSync(opts.file);
      if ((st.mode & 0o077) !== 0) opts.warn?.(`--credentials-file ${opts.file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      return { problems: [`--credentials-file: cannot read ${opts.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`] };
    }
    const line = text.split(/\r?\n/)[0] ?? '';
    const colon = line.indexOf(':');
    if (colon < 1 || colon === line.length - 1) {
      return { problems: [`--credentials-file ${opts.file}: expected "user:password" on the first line, got ${line ? 'a line without a user and a password' : 'an empty line'}`] };
    }
    return { credentials: { user: line.slice(0, colon), password: line.slice(colon + 1) }, problems };
  }
  const user = opts.env.BULK_ENROLL_DASHBOARD_USER;
  const password = opts.env.BULK_ENROLL_DASHBOARD_PASSWORD;
  if (user === undefined && password === undefined) return { problems };
  if (!user) problems.push('BULK_ENROLL_DASHBOARD_USER: expected a user name, got none (BULK_ENROLL_DASHBOARD_PASSWORD is set)');
  if (!password) problems.push('BULK_ENROLL_DASHBOARD_PASSWORD: expected a password, got none (BULK_ENROLL_DASHBOARD_USER is set)');
  else if (password.length < 8) problems.push(`BULK_ENROLL_DASHBOARD_PASSWORD: expected at least 8 characters, got ${password.length}`);
  if (user?.includes(':')) problems.push('BULK_ENROLL_DASHBOARD_USER: expected no ":" (basic auth separates user and password with it)');
  return problems.length ? { problems } : { credentials: { user: user!, password: password! }, problems };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time comparison of the whole `user:password` pair. */
export function checkBasicAuth(header: string | undefined, c: Credentials): boolean {
  if (!header || !/^basic /i.test(header)) return false;
  let decoded: string;
  try {
    decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  } catch {
    return false;
  }
  return timingSafeEqual(digest(decoded), digest(`${c.user}:${c.password}`));
}

/** express middleware: 401 with a Basic challenge unless the request carries the credentials. */
export function basicAuth(c: Credentials) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (checkBasicAuth(req.headers.authorization, c)) {
      next();
      return;
    }
    res.set('WWW-Authenticate', 'Basic realm="bulk-enroll dashboard", charset="UTF-8"');
    res.status(401).type('text/plain').send('Credentials required.\n');
  };
}
