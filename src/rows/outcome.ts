/**
 * A row's final outcome, in readable terms, and the one place that builds it from the
 * row's state. Every path that ends a row (a job, the System Log watcher, the
 * reconciler, the feeder's duplicate check, an invalid input row) goes through
 * buildOutcome(), so the report's columns mean the same whoever wrote them.
 */
import type { Delivery, RowState } from './state.js';
import { noteText } from './state.js';

export type OutcomeKind = 'activated' | 'expired' | 'failed';
export const OUTCOME_KINDS: readonly OutcomeKind[] = ['activated', 'expired', 'failed'];

export interface RowOutcome {
  outcome: OutcomeKind;
  userId?: string;
  factorId?: string;
  /** Okta's status as last reported. */
  status?: string;
  errorCode?: string;
  errorSummary?: string;
  /** Activations Okta created for the row. */
  attempts: number;
  /** The factor's `created`. */
  enrolledAt?: string;
  finishedAt: string;
  note?: string;
  delivery: Delivery;
}

export interface OutcomeDetails {
  errorCode?: string;
  errorSummary?: string;
  /** Status to report instead of the factor's last one (e.g. the dialect's ACTIVE word). */
  status?: string;
  /** A note added on the way out. */
  note?: string;
}

export function buildOutcome(state: RowState, outcome: OutcomeKind, now: number, details: OutcomeDetails = {}): RowOutcome {
  const notes = details.note && !state.notes.includes(details.note) ? [...state.notes, details.note] : state.notes;
  const out: RowOutcome = {
    outcome,
    attempts: state.attempts,
    finishedAt: new Date(now).toISOString(),
    delivery: state.delivery ?? 'none',
  };
  if (state.userId) out.userId = state.userId;
  if (state.factor?.id) out.factorId = state.factor.id;
  const status = details.status ?? state.factor?.status;
  if (status) out.status = status;
  if (details.errorCode) out.errorCode = details.errorCode;
  if (details.errorSummary !== undefined) out.errorSummary = details.errorSummary;
  if (state.factor?.created) out.enrolledAt = state.factor.created;
  if (notes.length) out.note = noteText(notes);
  return out;
}

/** A failed outcome for a row that never got going (invalid input, duplicate row): no user state yet. */
export function failedOutcome(errorCode: string, errorSummary: string, now: number, userId?: string): RowOutcome {
  return { outcome: 'failed', errorCode, errorSummary, attempts: 0, finishedAt: new Date(now).toISOString(), delivery: 'none', ...(userId ? { userId } : {}) };
}
