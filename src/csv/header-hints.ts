/**
 * "Did you mean" for headers we cannot use: a header without a userId or login column
 * whose `Email`, `E-mail`, `UPN` or `ID` column probably is one; an unknown column that
 * is a typo of a known one (`Loign`, `factor_typ`); an Okta user export given without
 * --allow-unknown-columns. Each hint names the column (its number and its text); the
 * error that carries them names the line.
 */
import { knownSpellings, normaliseHeaderName, type InputColumn } from './columns.js';
import { showValue } from './input-row.js';

/** Header names (normalised) that usually hold what Okta calls the login. */
const LOGIN_LIKE: ReadonlySet<string> = new Set([
  'email',
  'emailaddress',
  'mail',
  'primaryemail',
  'workemail',
  'businessemail',
  'useremail',
  'upn',
  'userprincipalname',
  'samaccountname',
  'uid',
  'user',
  'account',
  'accountname',
  'loginname',
  'loginid',
  'signin',
  'signinname',
  'logonname',
]);

/** Header names (normalised) that usually hold an Okta user id. */
const USER_ID_LIKE: ReadonlySet<string> = new Set(['id', 'identifier', 'useridentifier', 'oktauid', 'oktaidentifier']);

const EMAILISH = /mail|upn|principal/;

/** For a header with neither a userId nor a login column: the columns that probably are one. */
export function identityHints(names: readonly string[]): string[] {
  const hints: string[] = [];
  names.forEach((name, i) => {
    const n = normaliseHeaderName(name);
    const where = `column ${i + 1} ${showValue(name)}`;
    if (LOGIN_LIKE.has(n)) {
      hints.push(
        `${where}: did you mean login? Rename it to login if it holds the users' Okta usernames` +
          (EMAILISH.test(n) ? ' (often their email addresses; `email` itself is the address of an email factor)' : ''),
      );
    } else if (USER_ID_LIKE.has(n)) {
      hints.push(`${where}: did you mean userId? Rename it to userId if it holds Okta user ids like 00u1ab2cd3EF4gh5ij6k`);
    }
  });
  return hints;
}

/** Edit distance (a swap of two neighbours counts as one edit: `loign`), for short header names only. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known column an unknown header name is probably a typo of. */
export function typoOf(name: string): InputColumn | undefined {
  const n = normaliseHeaderName(name);
  if (n.length < 4 || n.length > 24) return undefined;
  const limit = n.length <= 6 ? 1 : 2;
  let best: { column: InputColumn; d: number } | undefined;
  for (const [spelling, column] of knownSpellings()) {
    const d = distance(n, spelling);
    if (d <= limit && (!best || d < best.d)) best = { column, d };
  }
  return best?.column;
}

/** "did you mean" hints for unknown header cells (`columns` are 0-based indexes into names). */
export function typoHints(names: readonly string[], columns: readonly number[]): string[] {
  const hints: string[] = [];
  for (const i of columns) {
    const column = typoOf(names[i]!);
    if (column) hints.push(`column ${i + 1} ${showValue(names[i]!)}: did you mean ${column}?`);
  }
  return hints;
}

/** For an Okta user export given without --allow-unknown-columns. */
export function oktaExportHint(names: readonly string[], canonical: ReadonlyArray<InputColumn | undefined>): string {
  const used = names.filter((_, i) => canonical[i] !== undefined).map(showValue);
  return `this looks like a user export from Okta: add --allow-unknown-columns to enroll its users by ${used.join(' and ')} and ignore its other columns`;
}
