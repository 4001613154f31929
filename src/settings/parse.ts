/**
 * Parsers for setting values, one way for every setting whether it comes from a flag or
 * from the environment: what was expected and what was found, p-queue style
 * ("expected a whole number from 1 to 75, got `100`"). Booleans read true/false, 1/0,
 * yes/no, on/off (any case); nothing else.
 */

export type Parsed<T> = { value: T } | { problem: string };
export type Parse<T> = (raw: string | boolean | number) => Parsed<T>;

const show = (v: unknown) => `\`${String(v)}\``;

export const TRUE_WORDS: readonly string[] = ['1', 'true', 'yes', 'on'];
export const FALSE_WORDS: readonly string[] = ['0', 'false', 'no', 'off'];

export function int(min: number, max = Number.MAX_SAFE_INTEGER): Parse<number> {
  return (raw) => {
    const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
    if (String(raw).trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      return { problem: `expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got ${show(raw)}` };
    }
    return { value: n };
  };
}

export function num(min: number, max: number): Parse<number> {
  return (raw) => {
    const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
    if (String(raw).trim() === '' || !Number.isFinite(n) || n < min || n > max) return { problem: `expected a number from ${min} to ${max}, got ${show(raw)}` };
    return { value: n };
  };
}

export const bool: Parse<boolean> = (raw) => {
  if (typeof raw === 'boolean') return { value: raw };
  const s = String(raw).trim().toLowerCase();
  if (TRUE_WORDS.includes(s)) return { value: true };
  if (FALSE_WORDS.includes(s)) return { value: false };
  return { problem: `expected true or false (also 1/0, yes/no, on/off), got ${show(raw)}` };
};

export function oneOf<T extends string>(values: readonly T[]): Parse<T> {
  return (raw) => {
    const s = String(raw).trim().toLowerCase();
    const hit = values.find((v) => v.toLowerCase() === s);
    if (hit === undefined) return { problem: `expected ${values.length === 2 ? values.join(' or ') : `one of ${values.join(', ')}`}, got ${show(raw)}` };
    return { value: hit };
  };
}

/** Text as given (trimmed); with a pattern, checked against it. */
export function text(check?: { pattern: RegExp; expected: string }): Parse<string> {
  return (raw) => {
    const s = String(raw).trim();
    if (!s) return { problem: 'expected a value, got nothing' };
    if (check && !check.pattern.test(s)) return { problem: `expected ${check.expected}, got ${show(s)}` };
    return { value: s };
  };
}

/** A size like `50m`, `512k`, `1g` or a number of bytes. */
export function size(min: number): Parse<number> {
  return (raw) => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(String(raw));
    const n = m ? Math.round(Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase())) : NaN;
    if (!Number.isSafeInteger(n) || n < min) return { problem: `expected a size of at least ${min} bytes like 50m, 512k or 1g, got ${show(raw)}` };
    return { value: n };
  };
}

/** A list separated by spaces or commas, each item checked. */
export function list(item?: { pattern: RegExp; expected: string }, expectedList = 'a list separated by spaces or commas'): Parse<string[]> {
  return (raw) => {
    const items = [...new Set(String(raw).split(/[\s,]+/).filter(Boolean))];
    if (!items.length) return { problem: `expected ${expectedList}, got ${show(raw)}` };
    if (item) for (const i of items) if (!item.pattern.test(i)) return { problem: `expected ${item.expected}, got ${show(i)}` };
    return { value: items };
  };
}
