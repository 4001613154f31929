/**
 * Redis key names for runs, and BullMQ job ids. Everything lives under the
 * configured prefix, so a test (or a second deployment) on its own prefix never
 * sees another's data. Job ids contain no ':' (BullMQ reserves it).
 */
export const QUEUES = { enroll: 'enroll', poll: 'poll', control: 'control' } as const;

export function runKeys(prefix: string, runId: string) {
  const base = `${prefix}:be:run:${runId}`;
  return {
    meta: base,
    input: `${base}:in`,
    progress: `${base}:st`,
    outcomes: `${base}:out`,
    counts: `${base}:counts`,
    inflight: `${base}:inflight`,
    claims: `${base}:claims`,
    pending: `${base}:pending`,
    feederLock: `${base}:feeder`,
    /** userId → row, for push factors waiting for activation (System Log detection). */
    byUser: `${base}:byuser`,
    logCursor: `${base}:log-cursor`,
    logLock: `${base}:log-lock`,
    /** userId → System Log events seen before the user's row started watching. */
    logSeen: `${base}:log-seen`,
    /** login (lower case) → userId: one lookup per distinct login. */
    logins: `${base}:logins`,
    /** E0000006 bookkeeping: `accepted` once any user was changed; the users refused. */
    refusal: `${base}:refusal`,
    refused: `${base}:refused`,
    /** Enrollments refused with no factor created, in a row without a success. */
    policyRefusals: `${base}:policy-refusals`,
  };
}
export type RunKeys = ReturnType<typeof runKeys>;

export function globalKeys(prefix: string) {
  return {
    runs: `${prefix}:be:runs`,
    active: `${prefix}:be:runs:active`,
    reconcileLock: `${prefix}:be:reconcile-lock`,
    recovering: `${prefix}:be:recovering`,
    bySha: `${prefix}:be:runs:by-sha256`,
    /** `<userId>|<factorType>` → `<runId>:<row>`: which row of which run works on a user's factor type. */
    claims: `${prefix}:be:claims`,
  };
}

export const jobIds = {
  enroll: (runId: string, row: number) => `e-${runId}-${row}`,
  poll: (runId: string, row: number) => `p-${runId}-${row}`,
};

/** Run ids: sortable by time, readable, no ':' (they go into job ids). */
export function newRunId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const rand = Math.random().toString(36).slice(2, 6);
  return `${t}-${rand}`;
}

export function isValidRunId(id: string): boolean {
  return /^[A-Za-z0-9_.-]{1,80}$/.test(id);
}
