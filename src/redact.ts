/**
 * Masks secrets in text bound for logs, reports, error messages and HTML: the strings
 * registered at start (the API token, the private key, each access token as issued,
 * proxy credentials) and anything shaped like a credential or activation material.
 *
 * A secret is masked whole, and so is any run of MIN_PREFIX or more characters that is a
 * prefix of it (unless that prefix is an ordinary lower-case word): a server that echoes the
 * first 16 characters of the token in an error summary must not put those into a report.
 *
 * No imports: the logger, the CLI and the Okta client all use it.
 */

export const REDACTED = '[REDACTED]';

/** The shortest echoed prefix of a secret that is masked (full secrets of 6 or 7 characters are masked whole). */
export const MIN_PREFIX = 8;

/** Shorter strings are not registered: masking them would eat ordinary words. */
const MIN_SECRET = 6;

const registered = new Set<string>();

/** Register a secret string (API token, access token, private key, proxy password) to be masked everywhere. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= MIN_SECRET) registered.add(secret);
}

/**
 * Whether the start of a secret is itself secret. A PEM's `-----BEGIN …` line and a JWK
 * text's `{"kty":…` opening are shared by every key (their secret parts are registered
 * on their own), so only the whole text is masked, never those openings.
 */
function prefixIsSecret(secret: string): boolean {
  if (secret.startsWith('-----') || secret.startsWith('{')) return false;
  // A prefix that reads like an ordinary word (lower-case letters only, e.g. a password
  // starting "sentinel") would eat that word in every message; tokens' prefixes never do.
  return !/^[a-z]+$/.test(secret.slice(0, MIN_PREFIX));
}

/**
 * `text` with every secret of `secrets`, and every echoed prefix of at least MIN_PREFIX
 * characters of one, replaced by [REDACTED].
 */
export function maskSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret || secret.length < MIN_SECRET) continue;
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    if (secret.length < MIN_PREFIX || !prefixIsSecret(secret)) continue;
    out = maskPrefixes(out, secret);
  }
  return out;
}

/** Replaces each run that starts like `secret` for at least MIN_PREFIX characters, as far as it keeps matching. */
function maskPrefixes(text: string, secret: string): string {
  const head = secret.slice(0, MIN_PREFIX);
  let at = text.indexOf(head);
  if (at === -1) return text;
  let out = '';
  let from = 0;
  while (at !== -1) {
    let end = at + MIN_PREFIX;
    while (end < text.length && end - at < secret.length && text.charCodeAt(end) === secret.charCodeAt(end - at)) end++;
    out += text.slice(from, at) + REDACTED;
    from = end;
    at = text.indexOf(head, end);
  }
  return out + text.slice(from);
}

const PATTERNS: Array<[RegExp, string]> = [
  [/\b(SSWS|Bearer|DPoP)\s+[A-Za-z0-9._~+/=-]+/g, '$1 [REDACTED]'],
  [/("?authorization"?\s*[:=]\s*"?)[^",}\n]+/gi, '$1[REDACTED]'],
  // activation material: QR code and activation-send links, barcodes
  [/https?:\/\/[^\s"']*\/(qr|lifecycle\/activate\/(email|sms))\/?[^\s"']*/gi, '[REDACTED-ACTIVATION-LINK]'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[REDACTED-PRIVATE-KEY]'],
  // credentials in a URL (a proxy URL from the environment, a Redis URL)
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:"']*:[^\s/@"']*@/gi, '$1[REDACTED]@'],
];

/** Every registered secret (and echoed prefix) and every credential-shaped string masked. */
export function redact(text: string): string {
  let out = maskSecrets(text, registered);
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}
