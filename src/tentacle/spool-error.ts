import { ErrorCode, PandoraError } from '../core/index.js';

export const SpoolErrorKind = { Exists: 'exists', Storage: 'storage' } as const;
export type SpoolErrorKind = (typeof SpoolErrorKind)[keyof typeof SpoolErrorKind];

export class SpoolError extends PandoraError {
  readonly kind: SpoolErrorKind;
  /** errno code of the failing call, e.g. ENOSPC. */
  readonly errno: string | undefined;
  constructor(kind: SpoolErrorKind, message: string, cause: unknown) {
    super(ErrorCode.TentacleStorage, message, { cause });
    this.kind = kind;
    const code = (cause as { code?: unknown } | undefined)?.code;
    this.errno = typeof code === 'string' ? code : undefined;
  }
}

/** ENOSPC: worth a second try once spare files have given their space back. */
export function isDiskFull(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === 'ENOSPC';
}
