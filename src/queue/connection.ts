import { Redis } from 'ioredis';

/**
 * Every Redis command of the listener gives up after this long, so a Redis that stops answering
 * turns into `SEND ERR` well inside the Tentacle client's 4 s patience, never a hang.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 1500;
/** A connection attempt that takes longer fails (start-up says so; later attempts retry). */
export const REDIS_CONNECT_TIMEOUT_MS = 3000;
/** Reconnect attempts back off up to this. */
const RECONNECT_MAX_DELAY_MS = 1000;

/**
 * The producer's connection to `queue_url` (`redis://` or `rediss://`). Offline queue off
 * (bullmq's production guide for producers): while Redis is unreachable a command fails at once
 * instead of piling up in memory; reconnects run in the background. Not connected until
 * `connect()` is awaited.
 */
export function createProducerConnection(url: string, connectionName: string): Redis {
  return new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    connectionName,
    retryStrategy: (times) => Math.min(times * 100, RECONNECT_MAX_DELAY_MS),
  });
}

/** Closes politely when Redis answers, at once otherwise. */
export async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
