import { performance } from 'node:perf_hooks';
import { ErrorCode, printableBytes, type PandoraError } from '../../core/index.js';
import { RejectReason } from '../metrics.js';
import { SpoolErrorKind } from '../spool-error.js';
import type { SpoolTransfer } from '../spool-transfer.js';
import { isZip, unzipFirstMember } from '../zip.js';
import type { SessionCore } from './core.js';
import { folderFor } from './folders.js';
import { SessionState } from './state.js';
import {
  hasForbidden,
  isUnstorableName,
  parseSize,
  parseUploadLine,
  SLASH,
  type UploadKind,
} from './wire.js';

/**
 * SEND and ZSEND (spec §3.1–§3.2): the checks in the reference's order, the body (to the spool
 * writer, or held in memory for ZSEND), then the final reply once the file is stored.
 */

export interface Upload {
  readonly kind: UploadKind;
  readonly name: Buffer;
  readonly dir: Buffer;
  readonly size: number;
  readonly startedAt: number;
  readonly spool: SpoolTransfer | undefined;
  readonly zipChunks: Buffer[] | undefined;
  /** Bytes this ZSEND holds of `zipMemory`, until it is stored or abandoned. */
  zipReserved: number;
  /** A disk write failed mid-body: the rest is read and discarded, then `… ERR` is sent. */
  failed: PandoraError | undefined;
}

function rejectUpload(
  session: SessionCore,
  kind: UploadKind,
  reply: Buffer,
  reason: RejectReason,
  name: Buffer,
): void {
  session.ctx.metrics.file('rejected');
  const message = `${kind.compressed ? 'ZSEND' : 'SEND'} refused`;
  session.refuse(reply, reason, message, { name: printableBytes(name) });
}

/** SEND / ZSEND: checks in the reference's order, then the first OK and the body. */
export function startUpload(session: SessionCore, line: Buffer, kind: UploadKind): void {
  const args = parseUploadLine(line, kind.prefix.length);
  if (!args) {
    session.unknownCommand(line);
    return;
  }
  const startedAt = performance.now();
  const name = Buffer.from(args.name);
  const { config, ctx } = session;
  if (hasForbidden(name, config.forbiddenBytes) || isUnstorableName(name)) {
    rejectUpload(session, kind, kind.errName, RejectReason.InvalidName, name);
    return;
  }
  const size = parseSize(args.digits, config.maxSize);
  if (size === 0) {
    rejectUpload(session, kind, kind.errBig, RejectReason.TooBig, name);
    return;
  }
  const dir = folderFor(session, name);
  if (kind.compressed && !ctx.zipMemory.tryTake(size)) {
    rejectUpload(session, kind, kind.err, RejectReason.Busy, name);
    return;
  }
  if (config.overwrite) {
    beginBody(session, kind, name, dir, size, startedAt);
    return;
  }
  const exists = ctx.spool.exists(Buffer.concat([dir, SLASH, name]));
  const decide = (found: boolean): void => {
    if (session.state === SessionState.Closed) {
      if (kind.compressed) ctx.zipMemory.giveBack(size);
      return;
    }
    if (!found) {
      beginBody(session, kind, name, dir, size, startedAt);
      return;
    }
    if (kind.compressed) ctx.zipMemory.giveBack(size);
    rejectUpload(session, kind, kind.errExists, RejectReason.Exists, name);
  };
  if (typeof exists === 'boolean') decide(exists);
  else {
    session.work(async () => {
      decide(await exists);
    });
  }
}

function beginBody(
  session: SessionCore,
  kind: UploadKind,
  name: Buffer,
  dir: Buffer,
  size: number,
  startedAt: number,
): void {
  session.upload = {
    kind,
    name,
    dir,
    size,
    startedAt,
    spool: kind.compressed ? undefined : session.ctx.spool.begin(dir, name),
    zipChunks: kind.compressed ? [] : undefined,
    zipReserved: kind.compressed ? size : 0,
    failed: undefined,
  };
  session.state = SessionState.Body;
  session.reply(kind.ok);
  session.parser.expectPayload(size);
}

/** Bytes of the body held in memory (not yet written, or a ZSEND archive). */
export function uploadBufferedBytes(upload: Upload): number {
  let body = upload.spool?.bufferedBytes ?? 0;
  if (upload.zipChunks) for (const c of upload.zipChunks) body += c.length;
  return body;
}

/** A piece of the body: kept (ZSEND) or written, holding the peer while the disk catches up. */
export function uploadChunk(session: SessionCore, chunk: Buffer): void {
  const upload = session.upload;
  if (!upload) return;
  if (upload.zipChunks) {
    upload.zipChunks.push(chunk);
    return;
  }
  if (upload.failed || !upload.spool) return;
  const pending = upload.spool.append(chunk);
  if (!pending) return;
  // The body goes to disk: read no more until it is written (backpressure).
  session.hold();
  pending.then(
    () => {
      session.afterWork();
    },
    (err: unknown) => {
      upload.failed = err as PandoraError;
      session.afterWork();
    },
  );
}

/** The whole body has arrived: store it, then answer. */
export function uploadEnded(session: SessionCore): void {
  const upload = session.upload;
  if (!upload) return;
  session.ctx.metrics.receivedBytes.inc(upload.size);
  session.work(async () => {
    const reply = await store(session, upload).finally(() => {
      releaseZipMemory(session, upload);
    });
    session.upload = undefined;
    session.reply(reply);
    session.commandDone();
  });
}

/** An upload cut short: counted as an error; its temp file is removed before `closed`. */
export function abandonUpload(session: SessionCore): void {
  const upload = session.upload;
  if (!upload) return;
  session.upload = undefined;
  session.ctx.metrics.file('error');
  releaseZipMemory(session, upload);
  session.cleanup = upload.spool?.abort();
}

function releaseZipMemory(session: SessionCore, upload: Upload): void {
  session.ctx.zipMemory.giveBack(upload.zipReserved);
  upload.zipReserved = 0;
}

/** Stores a received body; returns the final reply. */
async function store(session: SessionCore, upload: Upload): Promise<Buffer> {
  const { kind } = upload;
  let size = upload.size;
  try {
    if (upload.failed) throw upload.failed;
    if (upload.zipChunks) {
      const zipped = await storeZip(session, upload);
      if (typeof zipped !== 'number') return zipped;
      size = zipped;
    } else {
      await upload.spool?.commit();
    }
  } catch (err) {
    return storeFailed(session, upload, err);
  }
  reportStored(session, upload, size);
  return kind.ok;
}

/** ZSEND: unpacks the archive's first member (or takes the body as it is) and stores it;
 * returns the stored size, or the reply for an archive that is refused. */
async function storeZip(session: SessionCore, upload: Upload): Promise<number | Buffer> {
  const { ctx, config } = session;
  const body = Buffer.concat(upload.zipChunks ?? [], upload.size);
  if (upload.zipChunks) upload.zipChunks.length = 0;
  let size = upload.size;
  const result = await ctx.zipGate.run(async () => {
    let data: Buffer = body;
    if (isZip(body)) {
      try {
        data = unzipFirstMember(body, config.maxDecompressedSize);
      } catch (err) {
        return err as PandoraError;
      }
    }
    size = data.length;
    await ctx.spool.begin(upload.dir, upload.name).commitData(data);
    return undefined;
  });
  if (!result) return size;
  const reason =
    result.code === ErrorCode.ZipTooLarge ? RejectReason.ZipTooLarge : RejectReason.ZipInvalid;
  ctx.metrics.file('rejected');
  session.reject(reason, 'ZSEND archive refused', {
    name: printableBytes(upload.name),
    err: result.message,
  });
  return upload.kind.err;
}

/** A body that could not be stored: `… ERR (file already exists)` if it appeared meanwhile,
 * else `… ERR` (the session goes on). */
function storeFailed(session: SessionCore, upload: Upload, err: unknown): Buffer {
  const { kind, name } = upload;
  const { metrics } = session.ctx;
  const spoolErr = err as { kind?: string; errno?: string; message: string };
  if (spoolErr.kind === SpoolErrorKind.Exists) {
    metrics.file('rejected');
    session.reject(RejectReason.Exists, 'file appeared while it was being received', {
      name: printableBytes(name),
    });
    return kind.errExists;
  }
  metrics.file('error');
  metrics.reject(RejectReason.Storage);
  session.logger().error(
    {
      event: 'store_failed',
      reason: RejectReason.Storage,
      name: printableBytes(name),
      errno: spoolErr.errno,
      err: spoolErr.message,
    },
    'could not store file',
  );
  return kind.err;
}

/** Counts, logs and announces a stored file. */
function reportStored(session: SessionCore, upload: Upload, size: number): void {
  const { metrics, logger, fileStored: notify } = session.ctx;
  metrics.file('ok');
  metrics.receiveDuration.observe((performance.now() - upload.startedAt) / 1000);
  if (logger.isLevelEnabled(session.ctx.connectionLogLevel)) {
    session.logger()[session.ctx.connectionLogLevel](
      {
        event: 'file_received',
        name: printableBytes(upload.name),
        size,
        compressed: upload.kind.compressed,
      },
      'received file',
    );
  }
  if (notify) {
    const pathBytes = Buffer.concat([upload.dir, SLASH, upload.name]);
    notify({
      path: pathBytes.toString('utf8'),
      pathBytes,
      name: upload.name.toString('utf8'),
      nameBytes: upload.name,
      size,
      compressed: upload.kind.compressed,
      peer: session.peer,
      stored: upload.spool?.stored,
    });
  }
}
