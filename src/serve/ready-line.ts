/**
 * The one line `serve` logs once it accepts work, written for the person who just started it:
 * what listens where, which database it writes and which folder it reads. Supervisors and the
 * tests wait for its leading words, `tentacle-ingest serving`.
 */

export interface ReadyFacts {
  /** Bound Tentacle listeners; none with `--no-tentacle` (`tentacle 0`). */
  readonly tentacle: readonly { readonly address: string; readonly port: number }[];
  /** The HTTP side when `http_port` is set. */
  readonly http?: { readonly host: string; readonly port: number } | undefined;
  readonly db: {
    readonly user: string;
    readonly host: string;
    readonly port: number;
    readonly database: string;
  };
  readonly incomingDir: string;
  readonly dataserver: boolean;
}

/** `[::1]:41121` for IPv6, `127.0.0.1:41121` otherwise. */
function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${String(port)}`;
}

export function readyMessage(facts: ReadyFacts): string {
  const parts = [
    facts.tentacle.length > 0
      ? `Tentacle on ${facts.tentacle.map((a) => hostPort(a.address, a.port)).join(', ')}`
      : 'Tentacle listener off',
    facts.http === undefined
      ? 'HTTP off'
      : `HTTP on http://${hostPort(facts.http.host, facts.http.port)}`,
    `database ${facts.db.user}@${hostPort(facts.db.host, facts.db.port)}/${facts.db.database}`,
    `spool ${facts.incomingDir}${facts.dataserver ? '' : ' (dataserver off)'}`,
  ];
  return `tentacle-ingest serving: ready, ${parts.join(', ')}`;
}
