/**
 * Alert metrics: evaluations and their outcomes (counted after the datum's transaction
 * commits, so a rolled-back batch counts nothing), and the execution queue seen by the
 * missing-executor check. Names follow `pandora_<subsystem>_<name>_<unit>`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { metricOnce, zeroSeries } from '../../core/index.js';
import type { AlertOutcome } from './engine.js';

export interface AlertMetrics {
  readonly evaluated: Counter;
  /** Labelled by `result`: fired, recovered, ceased. */
  readonly results: Counter;
  readonly queueRows: Gauge;
  readonly queueOldestAge: Gauge;
}

export function createAlertMetrics(registry: Registry): AlertMetrics {
  const registers = [registry];
  return {
    evaluated: metricOnce(
      registry,
      'pandora_alerts_evaluated_total',
      () =>
        new Counter({
          name: 'pandora_alerts_evaluated_total',
          help: 'Module alerts evaluated against a datum (committed)',
          registers,
        }),
    ),
    results: metricOnce(registry, 'pandora_alerts_results_total', () => {
      const results = new Counter({
        name: 'pandora_alerts_results_total',
        help: 'Alert evaluations that fired, recovered or ceased (committed)',
        labelNames: ['result'],
        registers,
      });
      zeroSeries(results, [{ result: 'fired' }, { result: 'recovered' }, { result: 'ceased' }]);
      return results;
    }),
    queueRows: metricOnce(
      registry,
      'pandora_alert_queue_rows',
      () =>
        new Gauge({
          name: 'pandora_alert_queue_rows',
          help: 'Rows in talert_execution_queue waiting for a Pandora Alert Server',
          registers,
        }),
    ),
    queueOldestAge: metricOnce(
      registry,
      'pandora_alert_queue_oldest_age_seconds',
      () =>
        new Gauge({
          name: 'pandora_alert_queue_oldest_age_seconds',
          help: 'Age of the oldest talert_execution_queue row (0 when empty)',
          registers,
        }),
    ),
  };
}

/** Call after the transaction that ran the evaluations committed. */
export function recordAlertOutcome(metrics: AlertMetrics, outcome: AlertOutcome): void {
  if (outcome.evaluated > 0) metrics.evaluated.inc(outcome.evaluated);
  if (outcome.fired > 0) metrics.results.inc({ result: 'fired' }, outcome.fired);
  if (outcome.recovered > 0) metrics.results.inc({ result: 'recovered' }, outcome.recovered);
  if (outcome.ceased > 0) metrics.results.inc({ result: 'ceased' }, outcome.ceased);
}
