/**
 * RFC 8288 `Link` headers, as Okta paginates: `<https://org/api/v1/groups/x/users?after=…&limit=200>; rel="next"`.
 * The client follows `rel="next"` exactly as given and never builds a cursor URL itself.
 */

type HeaderValue = string | string[] | undefined;

/** The `rel` parameter of one link-value's parameter list (quoted or not). */
const REL_PARAM = /(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;"]+))/i;

/** Every link in the header(s), by relation type (lower case). The first link of a relation wins. */
export function parseLinkHeader(value: HeaderValue): Map<string, string> {
  const links = new Map<string, string>();
  if (value === undefined) return links;
  const text = Array.isArray(value) ? value.join(', ') : value;
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('<', i);
    if (open === -1) break;
    const close = text.indexOf('>', open + 1);
    if (close === -1) break;
    const uri = text.slice(open + 1, close).trim();
    // The parameter list runs to the next comma outside quotes.
    let j = close + 1;
    let quoted = false;
    for (; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c === 34 /* " */) quoted = !quoted;
      else if (c === 44 /* , */ && !quoted) break;
    }
    const rel = REL_PARAM.exec(text.slice(close + 1, j));
    const rels = rel?.[1] ?? rel?.[2];
    if (uri && rels) {
      for (const name of rels.toLowerCase().split(/\s+/)) {
        if (name && !links.has(name)) links.set(name, uri);
      }
    }
    i = j + 1;
  }
  return links;
}

/** The `rel="next"` link of an answer, or undefined on the last page. */
export function nextLink(value: HeaderValue): string | undefined {
  if (value === undefined) return undefined;
  return parseLinkHeader(value).get('next');
}
