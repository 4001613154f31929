/**
 * What the runner knows about one row while it is in flight, in readable terms. The
 * row lifecycle (lifecycle.ts) decides from this; the codec (codec.ts) is the only
 * place that knows how it is stored in Redis.
 */
import type { SafeLink } from '../okta/types.js';

/**
 * - `start`: nothing was sent to Okta for this row's factor in this run;
 * - `enrolling`: an enroll request may have reached Okta and its answer was not recorded;
 * - `restarting`: an activation restart may have reached Okta and its answer was not recorded;
 * - `waiting`: the row holds a pending activation and follows it (polls, the System Log).
 */
export type Phase = 'start' | 'enrolling' | 'restarting' | 'waiting';

/** The report's `delivery` values: the activation link sent, the send refused, or nothing sent. */
export type Delivery = 'sent' | 'none' | `failed:${string}`;

export interface FactorRef {
  id: string;
  /** Okta's status as last reported (ACTIVE, ACTIVATED, PENDING_ACTIVATION, EXPIRED, or a factorResult). */
  status: string;
  /** The factor's `created` (ISO), when Okta said. */
  created?: string;
  /** A link that reads the activation's state without side effects (…/activate/poll, or the seed's GET). */
  pollLink?: SafeLink;
  /** The factor's `…/lifecycle/activate` link: restarts an expired activation (and may be the only "poll" link). */
  activateLink?: SafeLink;
}

export interface Activation {
  /** When this activation started (epoch ms, local clock). */
  startedAt: number;
  /** When it expires (epoch ms, local clock). */
  expiresAt: number;
  /** false: Okta did not say (a listed factor); expiresAt is an assumption and the factor is polled. */
  expiresKnown: boolean;
  /** Polls made for this activation. */
  polls: number;
  /** This activation's link went out (or delivery was not owed). */
  delivered: boolean;
}

/** Something the row is waiting for, other than its user. */
export type Hold =
  /** Okta refused this user (E0000006) before any user was accepted: held until it is clear whether the credentials can change anyone. */
  | { kind: 'refused'; since: number; summary: string }
  /** Okta says the user is still being activated (E0000112): retried later, until a deadline. */
  | { kind: 'provisioning'; since: number; tries: number }
  /** Another run holds this user and factor type. */
  | { kind: 'elsewhere'; since: number; holder: string };

export interface RowState {
  phase: Phase;
  /** Resolved Okta user id. */
  userId?: string;
  factor?: FactorRef;
  activation?: Activation;
  /** Activations Okta created for this row (enrollments and restarts it answered): the report's `attempts`. */
  attempts: number;
  /** Restarts this run started for this row. */
  restarts: number;
  /** A restart was counted (ledger) and not yet answered: a retried job redoes it without a second charge. */
  restartCharged?: boolean;
  /** Times the reconciler handed the row back after its job was lost. */
  requeues: number;
  /** Facts for the report's `note`, in order. */
  notes: string[];
  delivery?: Delivery;
  /** The row met trouble on its own resource (per-resource 429s, 5xx): since when and how many tries. */
  trouble?: { since: number; tries: number };
  hold?: Hold;
  /** The factor was enrolled after a look that found nothing while the row was uncertain: list once more to catch a racing twin. */
  raceCheck?: boolean;
  /** Before enrolling, list the user's factors (an earlier try may have reached Okta). */
  mustLook?: boolean;
  /** Okta's words for a refusal met in this job (not stored: used within the job that met it). */
  refusalSummary?: string;
  /** This job has listed the user's factors (not stored: a retried job looks again). */
  looked?: boolean;
}

export function newRowState(): RowState {
  return { phase: 'start', attempts: 0, restarts: 0, requeues: 0, notes: [] };
}

export function addNote(state: RowState, note: string): RowState {
  if (state.notes.includes(note)) return state;
  return { ...state, notes: [...state.notes, note] };
}

/** The report's note cell. */
export function noteText(notes: readonly string[]): string {
  return notes.join('; ');
}
