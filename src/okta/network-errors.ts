/**
 * undici / socket failures → OktaNetworkError, with `maybeProcessed` saying whether
 * Okta may have acted on the request. Failures before a connection existed (refused,
 * DNS, connect timeout, unreachable) could not have reached Okta; anything later
 * (reset, socket closed, headers/body timeout, our overall timeout) may have.
 */
import { OktaNetworkError } from './errors.js';

const NOT_SENT: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** undici's own argument errors are bugs in the caller, not network trouble. */
const PROGRAMMING: ReadonlySet<string> = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_INVALID_RETURN_VALUE', 'UND_ERR_NOT_SUPPORTED']);

/** Thrown into the request's AbortSignal when the overall timeout fires. */
export class RequestTimeout extends Error {
  override readonly name = 'RequestTimeout';
  readonly code = 'REQUEST_TIMEOUT';
  constructor(readonly timeoutMs: number) {
    super(`no complete answer within ${timeoutMs} ms`);
  }
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string') return e.code;
  // Happy-eyeballs connect failures arrive as an AggregateError of per-address errors.
  if (Array.isArray(e.errors) && e.errors.length) return codeOf(e.errors[0]);
  if (e.cause) return codeOf(e.cause);
  return undefined;
}

/** undici's words for a proxy that said no: to a CONNECT (tunnel) or to a forwarded request (407). */
const PROXY_REFUSAL = /Proxy response \((\d{3})\)|Proxy Authentication Required \((\d{3})\)/;

/**
 * A proxy's refusal → OktaNetworkError PROXY_REFUSED (the request never reached Okta).
 * `proxy` is the proxy without credentials.
 */
function proxyRefusal(err: unknown, method: string, path: string, proxy: string | undefined): OktaNetworkError | undefined {
  if (!proxy || !(err instanceof Error)) return undefined;
  const m = PROXY_REFUSAL.exec(err.message);
  if (!m) return undefined;
  const status = Number(m[1] ?? m[2]);
  const hint =
    status === 407
      ? ': it wants credentials (put them in the proxy URL, http://user:password@host:port, or ask for the runner\'s host to be allowed)'
      : status === 403
        ? ': it does not allow this destination (ask for the Okta org to be allowed)'
        : '';
  return new OktaNetworkError(`the proxy ${proxy} refused to carry the request (HTTP ${status})${hint}`, 'PROXY_REFUSED', method, path, false);
}

/**
 * Converts a thrown transport error; returns undefined for errors that are not network
 * failures. `proxy`: the proxy in use (without credentials), for its refusals.
 */
export function toNetworkError(err: unknown, method: string, path: string, timeoutMs: number, proxy?: string): OktaNetworkError | undefined {
  if (err instanceof RequestTimeout) {
    return new OktaNetworkError(err.message, err.code, method, path, true);
  }
  const refused = proxyRefusal(err, method, path, proxy);
  if (refused) return refused;
  const code = codeOf(err);
  if (!code || PROGRAMMING.has(code)) return undefined;
  const message = err instanceof Error && err.message ? err.message : code;
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new OktaNetworkError(`no response headers within ${timeoutMs} ms`, code, method, path, true);
    case 'UND_ERR_BODY_TIMEOUT':
      return new OktaNetworkError(`response body stalled for ${timeoutMs} ms`, code, method, path, true);
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new OktaNetworkError(`could not connect in time (${message})`, code, method, path, false);
    default:
      return new OktaNetworkError(message, code, method, path, !NOT_SENT.has(code));
  }
}
