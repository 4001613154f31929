/**
 * Reads any factor answer of either dialect into one FactorView:
 * - the seed document's (301 + body on enroll, GET polling on the factor, ACTIVATED /
 *   EXPIRED, `_embedded.install`, `_links.next {name: poll}`, values padded with spaces
 *   by the text extraction, `"null"` strings);
 * - today's API (200 on enroll, `_embedded.activation {expiresAt, factorResult, _links
 *   {qrcode, send[]}}`, POST polling on `.../lifecycle/activate/poll`, poll answers
 *   `{expiresAt, factorResult, _links}` without an id, ACTIVE).
 * Activation material (QR code, barcode, app-store link, send links, shared secret)
 * goes to `secrets` and never into `links`.
 */
import { OktaProtocolError } from './errors.js';
import type { ActivationSecrets, FactorState, FactorView, HttpMethod, SafeLink } from './types.js';

export interface FactorParseContext {
  /** The user the request was about (Okta's factor body does not carry it). */
  userId: string;
  /** The factor the request was about, for answers without an `id` (today's poll result). */
  factorId?: string;
  /** Maps an href found in the answer to the href to keep (origin policy). Identity when omitted. */
  href?: (href: string) => string;
  /** For error messages. */
  method?: string;
  path?: string;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string value with the seed's padding removed; undefined for missing, empty and "null". */
export function cleanString(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const s = value.trim();
  return s === '' || s === 'null' ? undefined : s;
}

function obj(value: unknown): Json | undefined {
  return isObject(value) ? value : undefined;
}

const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'DELETE']);

function methodOf(link: Json, fallback: HttpMethod): HttpMethod {
  const allow = obj(link.hints)?.allow;
  if (Array.isArray(allow)) {
    const m = cleanString(allow[0])?.toUpperCase();
    if (m && METHODS.has(m)) return m as HttpMethod;
  }
  return fallback;
}

function safeLink(value: unknown, fallback: HttpMethod, map: (href: string) => string): SafeLink | undefined {
  const link = obj(value);
  if (!link) return undefined;
  const href = cleanString(link.href);
  if (!href) return undefined;
  return { href: map(href), method: methodOf(link, fallback) };
}

const FACTOR_IN_PATH = /\/factors\/([^/?#]+)/;

/** The factor id in a `/api/v1/users/{u}/factors/{f}…` path or URL. */
export function factorIdFromPath(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const m = FACTOR_IN_PATH.exec(path);
  if (!m?.[1]) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

const identity = (href: string): string => href;

function stateOf(status: string | undefined, factorResult: string | undefined): FactorState {
  if (status === 'ACTIVE' || status === 'ACTIVATED') return 'activated';
  if (status === 'EXPIRED' || factorResult === 'TIMEOUT') return 'expired';
  if (status === 'PENDING_ACTIVATION' || factorResult === 'WAITING') return 'waiting';
  return 'other';
}

function secretsOf(embedded: Json | undefined): ActivationSecrets | undefined {
  if (!embedded) return undefined;
  let secrets: ActivationSecrets | undefined;
  const activation = obj(embedded.activation);
  if (activation) {
    const aLinks = obj(activation._links);
    const qr = cleanString(obj(aLinks?.qrcode)?.href);
    if (qr) (secrets ??= {}).qrcodeHref = qr;
    const send = aLinks?.send;
    if (Array.isArray(send)) {
      const out: NonNullable<ActivationSecrets['send']> = [];
      for (const item of send) {
        const link = obj(item);
        const href = cleanString(link?.href);
        if (!link || !href) continue;
        out.push({ name: cleanString(link.name) ?? '', href, method: methodOf(link, 'POST') });
      }
      if (out.length) (secrets ??= {}).send = out;
    }
    const sharedSecret = cleanString(activation.sharedSecret);
    if (sharedSecret) (secrets ??= {}).sharedSecret = sharedSecret;
  }
  // token:software:totp enroll answer: _embedded._links.qrcode beside _embedded.activation
  const qr = cleanString(obj(obj(embedded._links)?.qrcode)?.href);
  if (qr && !secrets?.qrcodeHref) (secrets ??= {}).qrcodeHref = qr;
  const install = obj(embedded.install);
  if (install) {
    const barcode = cleanString(install.barcode);
    if (barcode) (secrets ??= {}).barcode = barcode;
    const appStore = cleanString(install.appStore);
    if (appStore) (secrets ??= {}).appStore = appStore;
  }
  return secrets;
}

/**
 * One factor / poll / activate answer → FactorView. Throws OktaProtocolError when the
 * answer is not an object or no factor id can be found (neither `id` nor ctx.factorId).
 */
export function parseFactor(json: unknown, ctx: FactorParseContext): FactorView {
  if (!isObject(json)) {
    throw new OktaProtocolError(
      `expected a factor object, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`,
      ctx.method ?? '',
      ctx.path ?? '',
    );
  }
  const map = ctx.href ?? identity;
  const factorId = cleanString(json.id) ?? ctx.factorId;
  if (!factorId) {
    throw new OktaProtocolError('expected a factor with an `id` (or a request path naming the factor), found neither', ctx.method ?? '', ctx.path ?? '');
  }
  const embedded = obj(json._embedded);
  const activation = obj(embedded?.activation);
  const rawStatus = cleanString(json.status)?.toUpperCase();
  const factorResult = cleanString(json.factorResult)?.toUpperCase();
  const status = rawStatus ?? factorResult ?? '';

  const links: FactorView['links'] = {};
  const rawLinks = obj(json._links);
  if (rawLinks) {
    const poll = safeLink(rawLinks.poll, 'GET', map);
    const next = obj(rawLinks.next);
    const nextName = next ? cleanString(next.name)?.toLowerCase() : undefined;
    if (poll) links.poll = poll;
    else if (nextName === 'poll') {
      const l = safeLink(next, 'GET', map);
      if (l) links.poll = l;
    }
    const activate = safeLink(rawLinks.activate, 'POST', map) ?? (nextName === 'activate' ? safeLink(next, 'POST', map) : undefined);
    if (activate) links.activate = activate;
    const self = safeLink(rawLinks.self, 'GET', map);
    if (self) links.self = self;
    const deactivate = safeLink(rawLinks.deactivate, 'POST', map);
    if (deactivate) links.deactivate = deactivate;
  }

  const view: FactorView = {
    factorId,
    userId: ctx.userId,
    factorType: cleanString(json.factorType) ?? '',
    provider: cleanString(json.provider) ?? '',
    status,
    state: stateOf(rawStatus, factorResult),
    links,
  };
  const created = cleanString(json.created);
  if (created) view.created = created;
  const lastUpdated = cleanString(json.lastUpdated);
  if (lastUpdated) view.lastUpdated = lastUpdated;
  const expiresAt = cleanString(json.expiresAt) ?? cleanString(activation?.expiresAt);
  if (expiresAt) view.expiresAt = expiresAt;
  const deviceName = cleanString(obj(json.profile)?.deviceName);
  if (deviceName) view.deviceName = deviceName;
  const secrets = secretsOf(embedded);
  if (secrets) {
    if (secrets.send) for (const s of secrets.send) s.href = map(s.href);
    view.secrets = secrets;
  }
  return view;
}
