/**
 * The missing-executor check of spec alerts.md §5.5: we only queue, so a queue nobody drains
 * means alerting is silently off. Every `alertserver_warn` seconds the caller runs
 * `checkAlertQueue`; it updates the queue metrics and, when the oldest row is older than
 * `alertserver_warn` and no live Pandora Alert Server (`tserver.server_type = 21`,
 * `status = 1`) exists, reports it — and on the master writes the reference's delay event at
 * most once an hour.
 */
import type mysql from 'mysql2/promise';
import type { Logger } from '../../core/index.js';
import { run } from './apply-sql.js';
import type { AlertMetrics } from './metrics.js';
import { systemEventSql } from './warm-up.js';

const ALERT_SERVER_TYPE = 21;
const EVENT_EVERY_SECONDS = 3600;

export interface QueueCheck {
  readonly rows: number;
  readonly oldestAgeSeconds: number;
  readonly executorAlive: boolean;
  /** The oldest row is overdue and no Alert Server is alive. */
  readonly delayed: boolean;
  readonly eventWritten: boolean;
}

export class AlertQueueMonitor {
  private lastEventAt = -Infinity;
  private readonly db: Pick<mysql.Pool, 'query'>;
  private readonly warnSeconds: number;
  private readonly logger: Logger;
  private readonly metrics: AlertMetrics | undefined;

  constructor(deps: {
    db: Pick<mysql.Pool, 'query'>;
    warnSeconds: number;
    logger: Logger;
    metrics?: AlertMetrics;
  }) {
    this.db = deps.db;
    this.warnSeconds = deps.warnSeconds;
    this.logger = deps.logger;
    this.metrics = deps.metrics;
  }

  async check(now: number, isMaster: boolean): Promise<QueueCheck> {
    const [[queue], [servers]] = await Promise.all([
      this.db.query<mysql.RowDataPacket[]>(
        'SELECT COUNT(*) AS n, MIN(utimestamp) AS oldest FROM talert_execution_queue',
      ),
      this.db.query<mysql.RowDataPacket[]>(
        'SELECT COUNT(*) AS n FROM tserver WHERE server_type = ? AND status = 1',
        [ALERT_SERVER_TYPE],
      ),
    ]);
    const rows = Number(queue[0]?.['n'] ?? 0);
    const oldest = queue[0]?.['oldest'] as unknown;
    const oldestAgeSeconds = rows > 0 && oldest !== null ? Math.max(0, now - Number(oldest)) : 0;
    this.metrics?.queueRows.set(rows);
    this.metrics?.queueOldestAge.set(oldestAgeSeconds);
    const executorAlive = Number(servers[0]?.['n'] ?? 0) > 0;
    const delayed = this.warnSeconds > 0 && oldestAgeSeconds > this.warnSeconds && !executorAlive;
    let eventWritten = false;
    if (delayed) {
      this.logger.error(
        { rows, oldestAgeSeconds },
        'alert queue is not drained: no Pandora Alert Server (alertserver 1) is running',
      );
      if (isMaster && now - this.lastEventAt >= EVENT_EVERY_SECONDS) {
        const text = `Alert execution delay has exceeded ${String(this.warnSeconds)} seconds.`;
        await run(this.db, systemEventSql(text, 3, now));
        this.lastEventAt = now;
        eventWritten = true;
      }
    }
    return { rows, oldestAgeSeconds, executorAlive, delayed, eventWritten };
  }
}
