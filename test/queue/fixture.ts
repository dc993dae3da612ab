import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Pool } from 'mysql2/promise';
import {
  encodePacketJob,
  PACKET_JOB,
  partitionOf,
  partitionQueueName,
} from '../../src/queue/index.js';
import { mod } from '../dataserver/harness.js';
import { testRedisUrl } from '../helpers/redis.js';

/** One packet to enqueue: the file name as the agent sent it and its bytes. */
export interface QueuedPacket {
  readonly name: string;
  readonly xml: string;
}

const CPU = [10, 10, 75, 75, 95, 95, 95, 80, 10, 10, 10, 96, 50, 50, 75, 10];
const PROC = [1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1];

/** Agent `label-a`'s packet of round `r`: values that change (status changes, events, incs). */
export function agentPacket(label: string, agent: number, round: number): QueuedPacket {
  const t = new Date(Date.UTC(2024, 2, 1, 10, 0, 0) + round * 300_000).toISOString();
  const cpu = (CPU[round % CPU.length] ?? 0) + (agent % 3);
  const xml = `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='${label}-${String(agent)}' group='Servers' os_name='Linux' interval='300' timestamp='${t.slice(0, 10)} ${t.slice(11, 19)}'>
${mod('cpu', 'generic_data', String(cpu), '<min_warning>70</min_warning><min_critical>90</min_critical>')}
${mod('proc', 'generic_proc', String(PROC[round % PROC.length] ?? 1), '<min_ff_event>1</min_ff_event>')}
${mod('st', 'generic_data_string', round % 4 < 2 ? 'OK' : 'FAIL')}
${mod('bytes', 'generic_data_inc', String(1000 * round * round + agent))}
</agent_data>`;
  return { name: `${label}-${String(agent)}.${String(1000 + round)}.data`, xml };
}

/**
 * Adds packets to the partition queues exactly as a listener does (topology's names, partition
 * rule and job encoding; attempts 1), in the given order: per agent, the order of `packets`.
 */
export async function enqueue(
  prefix: string,
  partitions: number,
  packets: readonly QueuedPacket[],
): Promise<void> {
  const byPartition = new Map<number, QueuedPacket[]>();
  for (const p of packets) {
    const n = partitionOf(p.name, partitions);
    byPartition.set(n, [...(byPartition.get(n) ?? []), p]);
  }
  const connection = new Redis(testRedisUrl(), { maxRetriesPerRequest: null });
  try {
    for (const [n, list] of byPartition) {
      const queue = new Queue(partitionQueueName(n), { connection, prefix });
      for (let i = 0; i < list.length; i += 200) {
        await queue.addBulk(
          list.slice(i, i + 200).map((p) => ({
            name: PACKET_JOB,
            data: encodePacketJob(p.name, Buffer.from(p.xml), 'test'),
            opts: { attempts: 1, removeOnComplete: true },
          })),
        );
      }
      await queue.close();
    }
  } finally {
    connection.disconnect();
  }
}

/** Jobs in each state over all partitions, and job hashes left (a completed job leaves none). */
export async function queueState(prefix: string, partitions: number, url = testRedisUrl()) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const sum = async (f: (q: string) => Promise<number>) => {
      let total = 0;
      for (let p = 0; p < partitions; p++) total += await f(`${prefix}:${partitionQueueName(p)}`);
      return total;
    };
    return {
      waiting: await sum((q) => redis.llen(`${q}:wait`)),
      active: await sum((q) => redis.llen(`${q}:active`)),
      failed: await sum((q) => redis.zcard(`${q}:failed`)),
      completed: await sum((q) => redis.zcard(`${q}:completed`)),
      /** Jobs BullMQ found stalled (their worker died holding them) and put back. */
      stalled: await sum(async (q) => {
        const events = await redis.xrange(`${q}:events`, '-', '+');
        return events.filter(([, fields]) => fields[1] === 'stalled').length;
      }),
    };
  } finally {
    redis.disconnect();
  }
}

/** The rows a packet stream produces (history, status, events), comparable across databases. */
export async function snapshot(pool: Pool) {
  const q = async (sql: string) => {
    const [rows] = await pool.query(sql);
    return (rows as Record<string, unknown>[]).map((r) => JSON.stringify(r));
  };
  const names = 'a.nombre AS agent, m.nombre AS module';
  const joins =
    'JOIN tagente_modulo m USING (id_agente_modulo) JOIN tagente a ON a.id_agente = m.id_agente';
  return {
    agents: await q(
      'SELECT nombre, alias, id_grupo, intervalo, ultimo_contacto_remoto FROM tagente ORDER BY nombre',
    ),
    history: await q(
      `SELECT ${names}, d.datos, d.utimestamp FROM tagente_datos d ${joins} ORDER BY 1, 2, 4, 3`,
    ),
    strings: await q(
      `SELECT ${names}, d.datos, d.utimestamp FROM tagente_datos_string d ${joins} ORDER BY 1, 2, 4, 3`,
    ),
    status: await q(
      `SELECT ${names}, e.datos, e.estado, e.known_status, e.last_status, e.last_known_status,
              e.status_changes, e.timestamp, e.last_try, e.last_execution_try, e.current_interval,
              e.last_status_change, e.ff_start_utimestamp, e.warning_count
         FROM tagente_estado e ${joins} ORDER BY 1, 2`,
    ),
    inc: await q(
      `SELECT ${names}, d.datos, d.utimestamp FROM tagente_datos_inc d ${joins} ORDER BY 1, 2`,
    ),
    events: await q(
      // "Agent … created by <servername>": which server created it differs by design.
      `SELECT a.nombre AS agent, COALESCE(m.nombre, '') AS module, v.event_type, v.criticity, v.estado,
              IF(v.event_type = 'new_agent', '(server)', v.evento) AS evento, v.data, v.module_status, v.ack_utimestamp > 0 AS acked
         FROM tevento v JOIN tagente a ON a.id_agente = v.id_agente
         LEFT JOIN tagente_modulo m ON m.id_agente_modulo = v.id_agentmodule
        ORDER BY 1, 2, v.id_evento`,
    ),
  };
}

/** The flags that put a `serve` child in queue mode on the test Redis. */
export function queueFlags(prefix: string, partitions: number, lockMs = 3000): string[] {
  return [
    '--queue_url',
    testRedisUrl(),
    '--queue_prefix',
    prefix,
    '--queue_partitions',
    String(partitions),
    '--queue_lock_ms',
    String(lockMs),
  ];
}
