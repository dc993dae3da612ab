/**
 * What the HTTP side reads. It is handed an implementation and owns no state of its own
 * (STYLE.md §4): the composition root wires HA, the receiver and the pipeline behind it.
 */
export interface PeerView {
  readonly name: string;
  readonly priority: number;
  readonly isLive: boolean;
  readonly isCandidate: boolean;
  readonly ageMs: number;
}

export interface StatusView {
  readonly server: string;
  readonly role: 'master' | 'standby';
  readonly master: string;
  /** `pandora`: one of Pandora's own servers is master and ours run no master duty. */
  readonly master_kind: 'ours' | 'pandora' | 'none';
  readonly epoch: number;
  readonly peers: readonly PeerView[];
  readonly queue_depth: number;
  readonly draining: boolean;
  /** Monotonic totals (files, bytes, values…); the HTTP side turns them into per-second rates. */
  readonly totals: Readonly<Record<string, number>>;
  /** Scale-out mode: the shared queue (waiting, active, oldest waiting age, jobs held here). */
  readonly queue?: Readonly<Record<string, number>>;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready: `draining`, `db`, `heartbeat`, `spool`, `disk`, `receiver`… */
  readonly reasons: readonly string[];
}

export interface HttpStateSource {
  status(): Promise<StatusView>;
  readiness(): Promise<Readiness>;
  /** Starts draining; resolves once new work is refused (in-flight work finishes later). */
  drain(): Promise<void>;
}
