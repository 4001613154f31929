/**
 * RFC 8288 `Link` headers, as Okta paginates: `<https://org/api/v1/groups/x/users?after=…&limit=200>; rel="next"`.
 * The client follows `rel="next"` exactly as given and never builds a cursor URL itself.
 */

type HeaderValue = string | string[] | undefined;

/** Matches one link-value: `<uri>` followed by its `; param=value` list. */
const LINK_VALUE = /<([^>]*)>((?:\s*;\s*[^;,<]*)*)/g;
const REL_PARAM = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))/i;

/** Every link in the header(s), by relation type (lower case). The first link of a relation wins. */
export function parseLinkHeader(value: HeaderValue): Map<string, string> {
  const links = new Map<string, string>();
  if (value === undefined) return links;
  const text = Array.isArray(value) ? value.join(', ') : value;
  for (const match of text.matchAll(LINK_VALUE)) {
    const uri = match[1]?.trim();
    const params = match[2] ?? '';
    const rel = REL_PARAM.exec(params);
    const rels = rel?.[1] ?? rel?.[2];
    if (!uri || !rels) continue;
    for (const name of rels.toLowerCase().split(/\s+/)) {
      if (name && !links.has(name)) links.set(name, uri);
    }
  }
  return links;
}

/** The `rel="next"` link of an answer, or undefined on the last page. */
export function nextLink(value: HeaderValue): string | undefined {
  if (value === undefined) return undefined;
  return parseLinkHeader(value).get('next');
}
