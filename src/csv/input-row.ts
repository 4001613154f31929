/**
 * One input row: its shape once validated (InputRow), the failure the runner
 * reports for it (InvalidRow), and the validator that turns CSV cells into one or
 * the other. Every problem names its column, what was expected and what was found:
 *   phoneNumber: expected E.164 like +14155550123, got "555-1234"
 */
import type { InputColumn } from './columns.js';

export interface InputRow {
  /** Data-row number in the file: 1-based, header excluded, a multi-line quoted field counts once. */
  row: number;
  userId?: string;
  login?: string;
  /** push | sms | call | email (lower case). */
  factorType: string;
  /** OKTA unless the row says otherwise (trimmed, as given). */
  provider: string;
  deviceType?: string;
  deviceName?: string;
  /** E.164, only for sms and call rows. */
  phoneNumber?: string;
  /** Only for email rows. */
  email?: string;
}

export interface InvalidRow {
  row: number;
  userId?: string;
  login?: string;
  factorType?: string;
  provider?: string;
  deviceName?: string;
  errorCode: 'INVALID_INPUT';
  /** Every problem of the row, each naming its column, joined with "; ". */
  reason: string;
}

export type RowResult = { ok: true; value: InputRow } | { ok: false; value: InvalidRow };

export const FACTOR_TYPES = ['push', 'sms', 'call', 'email'] as const;
export type FactorType = (typeof FACTOR_TYPES)[number];
export const DEFAULT_FACTOR_TYPE: FactorType = 'push';
export const DEFAULT_PROVIDER = 'OKTA';

export const USER_ID_RE = /^[A-Za-z0-9]{1,64}$/;
export const LOGIN_MAX_CHARS = 100;
export const E164_RE = /^\+[1-9][0-9]{1,14}$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** C0 controls, DEL and C1 controls. */
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;
/** Like CONTROL_RE but tab and line breaks are allowed (a device name may wrap). */
const CONTROL_EXCEPT_WS_RE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/**
 * A cell value as messages show it: JSON-quoted (control characters escaped, so a
 * hostile cell cannot drive the terminal), C1 controls and bidi overrides escaped,
 * and cut to 60 characters.
 */
export function showValue(value: string): string {
  const cut = value.length > 60 ? `${value.slice(0, 57)}...` : value;
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) =>
    `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function controlAt(value: string, re: RegExp): string | undefined {
  const m = re.exec(value);
  if (!m) return undefined;
  return `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} at position ${m.index + 1}`;
}

export type RowCells = Partial<Record<InputColumn, string>>;

export interface FieldCount {
  got: number;
  expected: number;
}

/** Phone numbers are accepted with spaces, dashes, dots or parentheses and stored as E.164. */
export function normalisePhone(value: string): string {
  return value.replace(/[\s().-]/g, '');
}

/**
 * Validate one row. `cells` holds the row's values by canonical column (missing
 * column or missing cell: undefined); `fieldCount` is given when the row has more
 * or fewer fields than the header.
 */
export function validateRow(row: number, cells: RowCells, fieldCount?: FieldCount): RowResult {
  const problems: string[] = [];
  const get = (c: InputColumn): string => (cells[c] ?? '').trim();

  if (fieldCount && fieldCount.got !== fieldCount.expected) {
    problems.push(`row has ${fieldCount.got} field${fieldCount.got === 1 ? '' : 's'}, header has ${fieldCount.expected}`);
  }

  const userId = get('userId');
  const login = get('login');
  const rawFactor = get('factorType');
  const provider = get('provider') || DEFAULT_PROVIDER;
  const deviceType = get('deviceType');
  const deviceName = get('deviceName');
  const phone = get('phoneNumber');
  const email = get('email');

  if (!userId && !login) {
    problems.push('userId, login: expected a userId or a login, both are empty');
  }
  if (userId && !USER_ID_RE.test(userId)) {
    problems.push(`userId: expected an Okta user id (1 to 64 letters and digits, like 00u1ab2cd3EF4gh5ij6k), got ${showValue(userId)}`);
  }
  if (login) {
    const ctl = controlAt(login, CONTROL_RE);
    if (ctl) problems.push(`login: expected no control characters, found ${ctl}`);
    else if (login.length > LOGIN_MAX_CHARS) problems.push(`login: expected at most ${LOGIN_MAX_CHARS} characters, got ${login.length}`);
    else if (login.toLowerCase() === 'me') {
      problems.push('login: "me" is refused (Okta would resolve it to the API token\'s own admin user)');
    }
  }

  const factorType = (rawFactor || DEFAULT_FACTOR_TYPE).toLowerCase();
  const factorOk = (FACTOR_TYPES as readonly string[]).includes(factorType);
  if (!factorOk) {
    problems.push(`factorType: unsupported factor type ${showValue(rawFactor)} (expected push, sms, call or email)`);
  }

  for (const [column, value] of [
    ['provider', provider],
    ['deviceType', deviceType],
  ] as const) {
    const ctl = controlAt(value, CONTROL_RE);
    if (ctl) problems.push(`${column}: expected no control characters, found ${ctl}`);
  }
  const nameCtl = controlAt(deviceName, CONTROL_EXCEPT_WS_RE);
  if (nameCtl) problems.push(`deviceName: expected no control characters, found ${nameCtl}`);

  let phoneNumber: string | undefined;
  if (factorType === 'sms' || factorType === 'call') {
    if (!phone) {
      problems.push(`phoneNumber: required for ${factorType} factors, expected E.164 like +14155550123, got an empty value`);
    } else if (!E164_RE.test(normalisePhone(phone))) {
      problems.push(`phoneNumber: expected E.164 like +14155550123, got ${showValue(phone)}`);
    } else {
      phoneNumber = normalisePhone(phone);
    }
  } else if (factorType === 'push' && phone) {
    // Optional for push: where an SMS activation link may be sent (--sms-to-csv-phone).
    if (E164_RE.test(normalisePhone(phone))) phoneNumber = normalisePhone(phone);
    else problems.push(`phoneNumber: expected E.164 like +14155550123, got ${showValue(phone)}`);
  }

  let emailValue: string | undefined;
  if (factorType === 'email') {
    if (!email) {
      problems.push('email: required for email factors, expected an address like jane.doe@example.com, got an empty value');
    } else if (email.length > 254 || !EMAIL_RE.test(email)) {
      problems.push(`email: expected an address like jane.doe@example.com, got ${showValue(email)}`);
    } else {
      emailValue = email;
    }
  }

  if (problems.length > 0) {
    const value: InvalidRow = { row, errorCode: 'INVALID_INPUT', reason: problems.join('; ') };
    if (userId) value.userId = userId;
    if (login) value.login = login;
    value.factorType = factorOk ? factorType : rawFactor || DEFAULT_FACTOR_TYPE;
    value.provider = provider;
    if (deviceName) value.deviceName = deviceName;
    return { ok: false, value };
  }

  const value: InputRow = { row, factorType, provider };
  if (userId) value.userId = userId;
  if (login) value.login = login;
  if (deviceType) value.deviceType = deviceType;
  if (deviceName) value.deviceName = deviceName;
  if (phoneNumber) value.phoneNumber = phoneNumber;
  if (emailValue) value.email = emailValue;
  return { ok: true, value };
}
