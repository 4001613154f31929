/**
 * The input CSV's columns: canonical names, the spellings HR exports use for them,
 * header normalisation, and the user exports of Okta's admin console. A header cell is
 * matched case-insensitively after dropping spaces, `_`, `-` and `.`: `User ID`,
 * `user_id`, `userid` are all `userId`.
 */

export const INPUT_COLUMNS = [
  'userId',
  'login',
  'factorType',
  'provider',
  'deviceType',
  'deviceName',
  'phoneNumber',
  'email',
] as const;
export type InputColumn = (typeof INPUT_COLUMNS)[number];

/** normalised spelling → canonical column. */
const ALIASES: ReadonlyMap<string, InputColumn> = new Map<string, InputColumn>([
  ['userid', 'userId'],
  ['oktauserid', 'userId'],
  ['oktaid', 'userId'],
  ['login', 'login'],
  ['username', 'login'],
  ['oktalogin', 'login'],
  ['oktausername', 'login'],
  ['userlogin', 'login'],
  ['profilelogin', 'login'],
  ['factortype', 'factorType'],
  ['factor', 'factorType'],
  ['provider', 'provider'],
  ['factorprovider', 'provider'],
  ['devicetype', 'deviceType'],
  ['devicename', 'deviceName'],
  ['device', 'deviceName'],
  ['phonenumber', 'phoneNumber'],
  ['phone', 'phoneNumber'],
  ['mobile', 'phoneNumber'],
  ['mobilephone', 'phoneNumber'],
  ['email', 'email'],
  ['emailaddress', 'email'],
]);

/** `User ID` → `userid`: lower case, without spaces, `_`, `-`, `.`. */
export function normaliseHeaderName(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_.-]+/g, '');
}

/** The canonical column a header cell names, or undefined when it is not one of ours. */
export function canonicalColumn(name: string): InputColumn | undefined {
  return ALIASES.get(normaliseHeaderName(name));
}

/** For messages: "userId, login, factorType, …". */
export function describeKnownColumns(): string {
  return INPUT_COLUMNS.join(', ');
}

/** Every normalised spelling we read, with its column (for "did you mean" hints). */
export function knownSpellings(): ReadonlyMap<string, InputColumn> {
  return ALIASES;
}

/** Columns only a bulk-enroll input has: their presence means the file is not a plain user export. */
const ENROLLMENT_COLUMNS: ReadonlySet<InputColumn> = new Set<InputColumn>(['factorType', 'provider', 'deviceType', 'deviceName']);

/**
 * Columns of Okta's user lists (Directory > People exports, the Import Users from CSV
 * template, the Password Health and User Accounts reports), normalised, besides the
 * login column they all have.
 */
const OKTA_EXPORT_COLUMNS: ReadonlySet<string> = new Set([
  'firstname',
  'lastname',
  'middlename',
  'displayname',
  'userfullname',
  'user',
  'primaryemail',
  'secondaryemail',
  'secondemail',
  'mobilephone',
  'primaryphone',
  'status',
  'oktauserstatus',
  'usertype',
  'created',
  'activated',
  'activationdate',
  'statuschanged',
  'statuschangedate',
  'lastlogin',
  'lastupdated',
  'passwordchanged',
  'lastpasswordchange',
  'authenticationsource',
]);

export interface HeaderMapping {
  /** The input column of each header cell, undefined when the cell is not read. */
  canonical: Array<InputColumn | undefined>;
  /**
   * The header is one of Okta's user exports (a login column, at least two of its
   * other columns, no enrollment column): only its userId / login columns are read
   * (`ID` is its user id), the rest (phones, emails, names, status) is ignored.
   */
  oktaExport: boolean;
}

/** The input column of every header cell. */
export function mapHeader(names: readonly string[]): HeaderMapping {
  const canonical = names.map((n) => canonicalColumn(n));
  const normalised = names.map((n) => normaliseHeaderName(n));
  const oktaExport =
    canonical.includes('login') &&
    !canonical.some((c) => c !== undefined && ENROLLMENT_COLUMNS.has(c)) &&
    normalised.filter((n) => OKTA_EXPORT_COLUMNS.has(n)).length >= 2;
  if (!oktaExport) return { canonical, oktaExport };
  const identity = canonical.map((c) => (c === 'userId' || c === 'login' ? c : undefined));
  const id = normalised.indexOf('id');
  if (id !== -1 && !identity.includes('userId')) identity[id] = 'userId';
  return { canonical: identity, oktaExport };
}
