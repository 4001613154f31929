/**
 * Reads any factor answer of either dialect into one FactorView:
 * - the seed document's (301 + body on enroll, GET polling on the factor, ACTIVATED /
 *   EXPIRED, `_embedded.install`, `_links.next {name: poll}`, values padded with spaces
 *   by the text extraction, `"null"` strings);
 * - today's API (200 on enroll, `_embedded.activation {expiresAt, factorResult, _links
 *   {qrcode, send[]}}`, POST polling on `.../lifecycle/activate/poll`, poll answers
 *   `{expiresAt, factorResult, _links}` without an id, ACTIVE);
 * - the archived reference's restart answer: the Push Factor Activation object alone
 *   (`{expiresAt, factorResult, _links {poll, qrcode, send[]}}`, no id, no _embedded),
 *   whose poll link is the factor's `.../lifecycle/activate` itself (`pollIsActivate`);
 * - listings where a pending factor carries `_links.next {name: activate}` or
 *   `_links.activate` and no poll link.
 * Activation material (QR code, barcode, app-store link, send links, shared secret)
 * goes to `secrets` and never into `links`, wherever the answer puts it.
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
  /** Okta's clock minus ours (ms), for expiresAtMs. Default 0. */
  clockOffsetMs?: number;
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

const ACTIVATE_END = /\/lifecycle\/activate\/?$/;

const ACTIVATE_POLL_END = /\/lifecycle\/activate\/poll\/?$/;

function pathOf(href: string): string {
  try {
    return new URL(href, 'http://base.invalid').pathname;
  } catch {
    return href;
  }
}

/** Whether a link's path ends in `/lifecycle/activate` (not `/activate/poll`). */
function endsWithActivate(href: string): boolean {
  return ACTIVATE_END.test(pathOf(href));
}

/**
 * A poll link's method when it has no hints: POST for today's `.../lifecycle/activate/poll`
 * and for `.../lifecycle/activate` (both POST-only endpoints), GET for the seed's poll on
 * the factor itself.
 */
function pollMethod(link: unknown): HttpMethod {
  const href = cleanString(obj(link)?.href);
  if (!href) return 'GET';
  const path = pathOf(href);
  return ACTIVATE_END.test(path) || ACTIVATE_POLL_END.test(path) ? 'POST' : 'GET';
}

/**
 * The status (or factorResult) as a state: a factor's status first (ACTIVE / ACTIVATED,
 * EXPIRED), then the activation's factorResult (TIMEOUT, CANCELLED, ERROR, WAITING),
 * then PENDING_ACTIVATION.
 */
function stateOf(status: string | undefined, factorResult: string | undefined): FactorState {
  if (status === 'ACTIVE' || status === 'ACTIVATED') return 'activated';
  if (status === 'EXPIRED' || factorResult === 'TIMEOUT') return 'expired';
  if (factorResult === 'CANCELLED') return 'cancelled';
  if (factorResult === 'ERROR') return 'error';
  if (status === 'PENDING_ACTIVATION' || status === 'WAITING' || factorResult === 'WAITING') return 'waiting';
  return 'other';
}

/** qrcode and send[] of one `_links` object (an embedded activation's, or a restart answer's own). */
function activationLinkSecrets(links: Json | undefined, into: ActivationSecrets | undefined): ActivationSecrets | undefined {
  if (!links) return into;
  let secrets = into;
  const qr = cleanString(obj(links.qrcode)?.href);
  if (qr && !secrets?.qrcodeHref) (secrets ??= {}).qrcodeHref = qr;
  const send = links.send;
  if (Array.isArray(send) && !secrets?.send) {
    const out: NonNullable<ActivationSecrets['send']> = [];
    for (const item of send) {
      const link = obj(item);
      const href = cleanString(link?.href);
      if (!link || !href) continue;
      out.push({ name: cleanString(link.name) ?? '', href, method: methodOf(link, 'POST') });
    }
    if (out.length) (secrets ??= {}).send = out;
  }
  return secrets;
}

function secretsOf(json: Json, embedded: Json | undefined): ActivationSecrets | undefined {
  // The restart answer (Push Factor Activation object alone) has them in its own _links.
  let secrets = activationLinkSecrets(obj(json._links), undefined);
  if (!embedded) return secrets;
  const activation = obj(embedded.activation);
  if (activation) {
    secrets = activationLinkSecrets(obj(activation._links), secrets);
    const sharedSecret = cleanString(activation.sharedSecret);
    if (sharedSecret) (secrets ??= {}).sharedSecret = sharedSecret;
  }
  // token:software:totp enroll answer: _embedded._links.qrcode beside _embedded.activation
  secrets = activationLinkSecrets(obj(embedded._links), secrets);
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
  const factorResult = (cleanString(json.factorResult) ?? cleanString(activation?.factorResult))?.toUpperCase();
  const status = rawStatus ?? factorResult ?? '';
  const shape: FactorView['shape'] = cleanString(json.id) ? 'factor' : 'activation';

  const links: FactorView['links'] = {};
  const rawLinks = obj(json._links);
  if (rawLinks) {
    const poll = safeLink(rawLinks.poll, pollMethod(rawLinks.poll), map);
    const next = obj(rawLinks.next);
    const nextName = next ? cleanString(next.name)?.toLowerCase() : undefined;
    if (poll) links.poll = poll;
    else if (nextName === 'poll') {
      const l = safeLink(next, pollMethod(next), map);
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
    shape,
    links,
  };
  if (factorResult) view.factorResult = factorResult;
  if (links.poll && endsWithActivate(links.poll.href)) view.pollIsActivate = true;
  const created = cleanString(json.created);
  if (created) view.created = created;
  const lastUpdated = cleanString(json.lastUpdated);
  if (lastUpdated) view.lastUpdated = lastUpdated;
  const expiresAt = cleanString(json.expiresAt) ?? cleanString(activation?.expiresAt);
  if (expiresAt) {
    view.expiresAt = expiresAt;
    const okta = Date.parse(expiresAt);
    if (Number.isFinite(okta)) view.expiresAtMs = okta - (ctx.clockOffsetMs ?? 0);
  }
  const deviceName = cleanString(obj(json.profile)?.deviceName);
  if (deviceName) view.deviceName = deviceName;
  const secrets = secretsOf(json, embedded);
  if (secrets) {
    if (secrets.send) for (const s of secrets.send) s.href = map(s.href);
    view.secrets = secrets;
  }
  return view;
}
