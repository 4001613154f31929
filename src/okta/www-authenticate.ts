/**
 * WWW-Authenticate challenges (RFC 9110 §11.6.1) as Okta sends them on OAuth answers:
 *   Bearer authorization_uri="…", realm="…", scope="okta.users.manage", error="insufficient_scope", error_description="…"
 *   DPoP algs="RS256 ES256", error="use_dpop_nonce", error_description="…"
 * Only what the client needs: the scheme and its auth-params of the first challenge.
 */

export interface Challenge {
  /** Lower case: `bearer`, `dpop`, `ssws`. */
  scheme: string;
  /** auth-param names in lower case; quoted values unescaped. */
  params: Record<string, string>;
}

const SCHEME = /^\s*,?\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)/;
const PARAM = /^\s*,?\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/;

/** Parses every challenge of a header value (or of several header lines). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const lines = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const line of lines) {
    let rest = line;
    let current: Challenge | undefined;
    for (let guard = 0; rest.trim() !== '' && guard < 64; guard++) {
      const param = PARAM.exec(rest);
      if (param && current) {
        current.params[param[1]!.toLowerCase()] = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : (param[3] ?? '');
        rest = rest.slice(param[0].length);
        continue;
      }
      const scheme = SCHEME.exec(rest);
      if (!scheme) break;
      current = { scheme: scheme[1]!.toLowerCase(), params: {} };
      out.push(current);
      rest = rest.slice(scheme[0].length);
    }
  }
  return out;
}

/** The first challenge carrying an `error` param, else the first challenge. */
export function mainChallenge(header: string | string[] | undefined): Challenge | undefined {
  const all = parseChallenges(header);
  return all.find((c) => c.params.error !== undefined) ?? all[0];
}
