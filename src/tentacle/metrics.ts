import {
  Counter,
  type CounterConfiguration,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  type Registry,
} from 'prom-client';
import { metricOnce } from '../core/index.js';

/**
 * Why a command, connection or transfer was refused: the bounded value set of the `reason`
 * label of `pandora_tentacle_rejections_total` and the `reason` field of the matching log line.
 */
export const RejectReason = {
  InvalidName: 'ERR_TENTACLE_INVALID_NAME',
  TooBig: 'ERR_TENTACLE_TOO_BIG',
  Exists: 'ERR_TENTACLE_EXISTS',
  NotFound: 'ERR_TENTACLE_NOT_FOUND',
  UnknownCommand: 'ERR_TENTACLE_UNKNOWN_COMMAND',
  LineTooLong: 'ERR_TENTACLE_LINE_TOO_LONG',
  AuthFailed: 'ERR_TENTACLE_AUTH_FAILED',
  Timeout: 'ERR_TENTACLE_TIMEOUT',
  TransferDeadline: 'ERR_TENTACLE_TRANSFER_DEADLINE',
  ConnectionLimit: 'ERR_TENTACLE_CONNECTION_LIMIT',
  AddressLimit: 'ERR_TENTACLE_ADDRESS_LIMIT',
  FirstByteTimeout: 'ERR_TENTACLE_FIRST_BYTE_TIMEOUT',
  CommandTimeout: 'ERR_TENTACLE_COMMAND_TIMEOUT',
  AuthThrottled: 'ERR_TENTACLE_AUTH_THROTTLED',
  Busy: 'ERR_TENTACLE_BUSY',
  Tls: 'ERR_TENTACLE_TLS',
  ZipInvalid: 'ERR_ZIP_INVALID',
  ZipTooLarge: 'ERR_ZIP_TOO_LARGE',
  Storage: 'ERR_TENTACLE_STORAGE',
  Disconnected: 'ERR_TENTACLE_DISCONNECTED',
  Proxy: 'ERR_TENTACLE_PROXY',
  ProxyHeader: 'ERR_TENTACLE_PROXY_HEADER',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

export type FileResult = 'ok' | 'rejected' | 'error';

/** Receive-duration buckets, 1 ms to 10 s. */
const RECEIVE_BUCKETS_SEC = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface TentacleMetrics {
  readonly connectionsActive: Gauge;
  readonly connectionsWaiting: Gauge;
  file(result: FileResult): void;
  readonly receivedBytes: Counter;
  reject(reason: RejectReason): void;
  readonly receiveDuration: Histogram;
  /** Folder fsyncs (sync always); fewer than files stored when group commit works. */
  readonly folderSyncs: Counter;
}

function gaugeIn(registry: Registry, config: GaugeConfiguration<string>): Gauge {
  return metricOnce(registry, config.name, () => new Gauge({ ...config, registers: [registry] }));
}

function counterIn(registry: Registry, config: CounterConfiguration<string>): Counter {
  return metricOnce(registry, config.name, () => new Counter({ ...config, registers: [registry] }));
}

function histogramIn(registry: Registry, config: HistogramConfiguration<string>): Histogram {
  return metricOnce(
    registry,
    config.name,
    () => new Histogram({ ...config, registers: [registry] }),
  );
}

/**
 * Creates (or, on a registry that already has them, reuses) the Tentacle metrics, registered in
 * the order `/metrics` lists them.
 */
export function createTentacleMetrics(registry: Registry): TentacleMetrics {
  const connectionsActive = gaugeIn(registry, {
    name: 'pandora_tentacle_connections_active',
    help: 'Tentacle connections being served',
  });
  const connectionsWaiting = gaugeIn(registry, {
    name: 'pandora_tentacle_connections_waiting',
    help: 'Accepted Tentacle connections waiting for a free slot (max_connections)',
  });
  const files = counterIn(registry, {
    name: 'pandora_tentacle_files_received_total',
    help: 'SEND/ZSEND uploads by result (ok, rejected by a check, error while storing)',
    labelNames: ['result'],
  });
  const receivedBytes = counterIn(registry, {
    name: 'pandora_tentacle_received_bytes_total',
    help: 'Body bytes of SEND/ZSEND uploads received in full',
  });
  const rejections = counterIn(registry, {
    name: 'pandora_tentacle_rejections_total',
    help: 'Refused commands, connections and transfers by reason (an error code)',
    labelNames: ['reason'],
  });
  const receiveDuration = histogramIn(registry, {
    name: 'pandora_tentacle_file_receive_duration_seconds',
    help: 'From the SEND/ZSEND line to the final OK of a stored file',
    buckets: RECEIVE_BUCKETS_SEC,
  });
  const folderSyncs = counterIn(registry, {
    name: 'pandora_tentacle_folder_fsyncs_total',
    help: 'Folder fsyncs under sync always (group commit: one covers many files)',
  });
  return {
    connectionsActive,
    connectionsWaiting,
    receivedBytes,
    receiveDuration,
    folderSyncs,
    file: fileResultCounter(files),
    reject: rejectionCounter(rejections),
  };
}

/** Counts a file by result, through children bound once (this runs per file). */
function fileResultCounter(files: Counter): (result: FileResult) => void {
  const byResult = {
    ok: files.labels('ok'),
    rejected: files.labels('rejected'),
    error: files.labels('error'),
  };
  for (const child of Object.values(byResult)) child.inc(0);
  return (result) => {
    byResult[result].inc();
  };
}

/** Counts a refusal by reason, through children bound once; each exists from the start at 0. */
function rejectionCounter(rejections: Counter): (reason: RejectReason) => void {
  const byReason = new Map(
    Object.values(RejectReason).map((reason) => [reason, rejections.labels(reason)]),
  );
  for (const child of byReason.values()) child.inc(0);
  return (reason) => {
    byReason.get(reason)?.inc();
  };
}
