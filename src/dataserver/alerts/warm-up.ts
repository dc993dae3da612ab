/**
 * Alert warm-up (spec alerts.md §2.2 gate 3): for `warmup_alert_interval` seconds after start
 * nothing is evaluated. The first datum after it writes "Warmup mode for alerts ended." —
 * exactly once per process (D-A11), in that datum's transaction.
 */
import type { AlertConnection, SqlStatement } from './apply-sql.js';
import { run } from './apply-sql.js';
import { insertEventSql } from './event-sql.js';
import { safeInput } from '../../pandora/index.js';

/** A `system` event of agent 0, group 0 (warm-up notices, the executor-delay warning). */
export function systemEventSql(text: string, criticity: number, now: number): SqlStatement {
  return insertEventSql(
    {
      id_agente: 0,
      id_grupo: 0,
      evento: safeInput(text),
      event_type: 'system',
      id_agentmodule: 0,
      id_alert_am: 0,
      criticity,
      tags: '',
      source: 'monitoring_server',
      id_extra: '',
      critical_instructions: '',
      warning_instructions: '',
      unknown_instructions: '',
      custom_data: '',
      data: '',
      module_status: 0,
    },
    now,
  );
}

/** The two notices the reference writes at start-up when the interval is > 0. */
export function warmUpStartedSql(now: number): SqlStatement[] {
  return [
    systemEventSql('Warmup mode for alerts started.', 0, now),
    systemEventSql('Warmup mode for events started.', 0, now),
  ];
}

export class AlertWarmUp {
  private ended: boolean;
  private ending: Promise<void> | undefined;

  private readonly startedAt: number;
  private readonly intervalSeconds: number;

  constructor(startedAt: number, intervalSeconds: number) {
    this.startedAt = startedAt;
    this.intervalSeconds = intervalSeconds;
    this.ended = intervalSeconds <= 0;
  }

  /**
   * True when alerts may be evaluated at `now`. The call that ends the warm-up writes the
   * notice on `conn`; if that transaction rolls back, `rolledBack()` re-arms it.
   */
  async allows(conn: AlertConnection, now: number): Promise<boolean> {
    if (this.ended) return true;
    if (now - this.startedAt < this.intervalSeconds) return false;
    this.ended = true;
    this.ending = run(conn, systemEventSql('Warmup mode for alerts ended.', 0, now));
    await this.ending;
    return true;
  }

  /** The transaction that wrote the "ended" notice did not commit: write it again next time. */
  rolledBack(): void {
    if (this.ending !== undefined && this.intervalSeconds > 0) {
      this.ended = false;
      this.ending = undefined;
    }
  }

  /** The transaction that wrote the notice committed. */
  committed(): void {
    this.ending = undefined;
  }
}
