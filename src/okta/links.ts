/**
 * Origin policy: the API credentials go to the configured org origin and nowhere else.
 *
 * - The org URL must be https://, except for loopback hosts (127.0.0.0/8, ::1, localhost)
 *   or when the operator opted in with allowInsecureHttp (warned once).
 * - A link or Location on another origin (the seed document's links point at
 *   http://rain.okta1.com:1802) is rebased onto the org origin when its path starts with
 *   /api/v1/ (warned once per foreign origin), or refused with ForeignOriginError when
 *   foreignLinks is 'fail'. It is never sent to the foreign host.
 * - Every request's target is checked again right before it is sent (requestTarget),
 *   not only when an answer's links are parsed.
 */
import { ConfigError } from '../errors.js';
import { ForeignOriginError, InsecureTransportError } from './errors.js';

export type ForeignLinkPolicy = 'rebase' | 'fail';

export interface OriginPolicyOptions {
  allowInsecureHttp?: boolean;
  foreignLinks?: ForeignLinkPolicy;
  warn?: (message: string, meta?: Record<string, unknown>) => void;
}

/** Where a request goes: the org-relative path (with query) and the full URL. */
export interface RequestTarget {
  path: string;
  url: string;
}

const IPV4_LOOPBACK = /^127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** 127.0.0.0/8, ::1 (with or without URL brackets), localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '::1' ||
    host === '[::1]' ||
    IPV4_LOOPBACK.test(host)
  );
}

const API_PREFIX = '/api/v1/';

export class OriginPolicy {
  /** e.g. https://example.okta.com (no trailing slash). */
  readonly origin: string;
  private readonly originSlash: string;
  private readonly foreignLinks: ForeignLinkPolicy;
  private readonly warn: ((message: string, meta?: Record<string, unknown>) => void) | undefined;
  private readonly warned = new Set<string>();

  constructor(orgUrl: string, opts: OriginPolicyOptions = {}) {
    let url: URL;
    try {
      url = new URL(orgUrl);
    } catch {
      throw new ConfigError([`orgUrl: expected an absolute URL such as https://example.okta.com, got ${JSON.stringify(orgUrl)}`]);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new ConfigError([`orgUrl: expected an https:// URL, got the scheme ${JSON.stringify(url.protocol)} in ${JSON.stringify(orgUrl)}`]);
    }
    if (url.username || url.password) {
      throw new ConfigError(['orgUrl: expected no user name or password in the URL, found credentials in it']);
    }
    const foreignLinks = opts.foreignLinks ?? 'rebase';
    if (foreignLinks !== 'rebase' && foreignLinks !== 'fail') {
      throw new ConfigError([`foreignLinks: expected 'rebase' or 'fail', got ${JSON.stringify(foreignLinks)}`]);
    }
    this.origin = url.origin;
    this.originSlash = `${url.origin}/`;
    this.foreignLinks = foreignLinks;
    this.warn = opts.warn;
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      if (!opts.allowInsecureHttp) throw new InsecureTransportError(url.origin);
      this.warn?.(
        `Sending the API token over plain http:// to ${url.origin} because insecure http was allowed; use this only inside a private network`,
        { origin: url.origin },
      );
    }
  }

  /**
   * Parse time: the href to keep for a link found in an answer. Org-origin and relative
   * hrefs come back absolute on the org origin; a foreign /api/v1/ href is rebased in
   * 'rebase' mode; anything else foreign is kept as given (and refused when followed).
   */
  normalizeHref(href: string): string {
    if (href.startsWith(this.originSlash) && !href.includes('#')) return href;
    const url = this.parse(href);
    if (!url) return href;
    if (url.origin === this.origin) return `${this.origin}${url.pathname}${url.search}`;
    if (this.foreignLinks === 'rebase' && url.pathname.startsWith(API_PREFIX)) {
      this.noteRebase(url.origin);
      return `${this.origin}${url.pathname}${url.search}`;
    }
    return href;
  }

  /**
   * Request time: the org-relative path to send for an href (a link, a next page, a
   * path built by the client). Throws ForeignOriginError rather than let credentials
   * leave the org origin.
   */
  requestTarget(href: string): RequestTarget {
    if (href.startsWith(this.originSlash) && !href.includes('#')) {
      return { path: href.slice(this.origin.length), url: href };
    }
    if (href.startsWith('/') && !href.startsWith('//') && !href.includes('#')) {
      return { path: href, url: `${this.origin}${href}` };
    }
    const url = this.parse(href);
    if (!url) throw new ForeignOriginError(`an unparseable URL ${JSON.stringify(href.slice(0, 80))}`, this.origin);
    const path = `${url.pathname}${url.search}`;
    if (url.origin === this.origin) return { path, url: `${this.origin}${path}` };
    if (this.foreignLinks === 'rebase' && url.pathname.startsWith(API_PREFIX)) {
      this.noteRebase(url.origin);
      return { path, url: `${this.origin}${path}` };
    }
    throw new ForeignOriginError(url.origin, this.origin);
  }

  private parse(href: string): URL | undefined {
    try {
      return new URL(href.trim(), this.originSlash);
    } catch {
      return undefined;
    }
  }

  private noteRebase(foreignOrigin: string): void {
    if (this.warned.has(foreignOrigin)) return;
    this.warned.add(foreignOrigin);
    this.warn?.(
      `Okta's answer links to ${foreignOrigin}; following those /api/v1/ links on ${this.origin} instead (the API token only goes to the org)`,
      { foreignOrigin, orgOrigin: this.origin },
    );
  }
}
