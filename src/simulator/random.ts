/**
 * Repeatable randomness: one seeded generator per concern (ids, faults), and a hash
 * for decisions that must not depend on request order (does user X scan on attempt N?).
 */

export type Random = () => number;

/** mulberry32: small, fast, good enough for a simulator. Returns [0, 1). */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** cyrb53 of a string, mapped to [0, 1). Same input, same output, whatever else happened. */
export function hashUnit(text: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)) / 9007199254740992;
}

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function alphanumeric(random: Random, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHANUM[Math.floor(random() * ALPHANUM.length)];
  return out;
}

/** Okta-looking id: 20 alphanumeric characters, `prefix` first (00u users, opf push, …). */
export function oktaId(random: Random, prefix: string): string {
  return prefix + alphanumeric(random, 20 - prefix.length);
}

/** Integer in [min, max]. */
export function between(unit: number, min: number, max: number): number {
  return min + Math.floor(unit * (max - min + 1));
}
