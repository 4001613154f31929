/**
 * Canonical JSON for signing: object keys sorted by UTF-16 code units (as RFC 8785
 * JCS sorts them), no white space, strings and numbers as JSON.stringify writes them.
 * Manifests hold only strings, finite numbers, booleans, null, arrays and plain
 * objects; anything else is refused rather than silently dropped, so what is signed
 * is exactly what is stored.
 */
export function canonicalJson(value: unknown, path = '$'): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: expected a finite number at ${path}, got ${String(value)}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, `${path}.${k}`)}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: expected JSON data at ${path}, got ${value === undefined ? 'undefined' : typeof value}`);
}
