/**
 * The settings a row's lifecycle decides with, from its run's stored settings and its
 * input row: the run settings every worker honours, the re-enrollment mode and cap.
 */
import type { RunSettings } from '../config.js';
import type { InputRow } from '../csv/input-row.js';
import { revisitOf } from '../reenroll/settings.js';
import type { RowSettings } from './lifecycle.js';
import { DEFAULT_RUN_SETTINGS } from '../config.js';

export function rowSettingsOf(settings: RunSettings, input: Pick<InputRow, 'factorType'>): RowSettings {
  const d = DEFAULT_RUN_SETTINGS;
  const { revisit, maxActivations } = revisitOf(settings);
  return {
    factorType: input.factorType.toLowerCase(),
    revisit: Boolean(revisit),
    ...(maxActivations ? { maxActivations } : {}),
    deliver: settings.deliver ?? d.deliver,
    activationTimeoutMs: settings.activationTimeoutMs ?? d.activationTimeoutMs,
    pollInitialMs: settings.pollInitialMs ?? d.pollInitialMs,
    pollFactor: settings.pollFactor ?? d.pollFactor,
    pollMaxMs: settings.pollMaxMs ?? d.pollMaxMs,
    rowRetryWindowMs: settings.rowRetryWindowMs ?? d.rowRetryWindowMs,
    provisioningWaitMs: settings.provisioningWaitMs ?? d.provisioningWaitMs,
    claimWaitMs: settings.claimWaitMs ?? d.claimWaitMs,
  };
}
