/**
 * The input CSV's columns: canonical names, the spellings HR exports use for them,
 * and header normalisation. A header cell is matched case-insensitively after
 * dropping spaces, `_`, `-` and `.`: `User ID`, `user_id`, `userid` are all `userId`.
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

/** For messages: "userId (also user_id, okta_id), login (also username), …". */
export function describeKnownColumns(): string {
  return INPUT_COLUMNS.join(', ');
}
