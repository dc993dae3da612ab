import fs from 'node:fs';
import { printableBytes } from '../../core/index.js';
import { RejectReason } from '../metrics.js';
import { zipSingleFile } from '../zip.js';
import { awaitConfirm, sendFile, writeToPeer } from './confirm.js';
import type { SessionCore } from './core.js';
import { filterIndex, folderOf } from './folders.js';
import { closeServedFile, openRegularFile, readAt } from './read-file.js';
import {
  ascii,
  hasForbidden,
  MV,
  parseNameLine,
  Reply,
  SLASH,
  ZRECV,
  type DownloadKind,
} from './wire.js';

/**
 * RECV, ZRECV and MV (spec §3.3–§3.5): which files may be served, `<X> SIZE n`, then the bytes
 * once the peer confirms (confirm.ts). MV deletes the file after sending it.
 */

/** RECV / ZRECV / MV: `<X> SIZE n`, then the bytes once the peer confirms with `<X> OK`. */
export function download(session: SessionCore, line: Buffer, kind: DownloadKind): void {
  const view = parseNameLine(line, kind.prefix.length);
  if (!view) {
    session.unknownCommand(line);
    return;
  }
  const name = Buffer.from(view);
  const { config, ctx } = session;
  if (hasForbidden(name, config.forbiddenBytes)) {
    const message = `${kind.cmd} refused`;
    session.refuse(kind.errName, RejectReason.InvalidName, message, { name: printableBytes(name) });
    return;
  }
  const filter = filterIndex(session, name);
  const folder = folderOf(session, filter);
  const servable = filter >= 0 && ctx.filterIsOwnFolder[filter] === true;
  if (kind !== MV && !config.recvAnyFile && !servable) {
    // A queued data file (or anything else outside the filter folders) is not served; the
    // reply is the reference's own for a missing file, so clients see nothing new.
    const message = `${kind.cmd}: not in a filter folder`;
    session.refuse(kind.errMissing, RejectReason.NotFound, message, { name: printableBytes(name) });
    return;
  }
  const path = Buffer.concat([folder, SLASH, name]);
  session.work(async () => {
    const file = name.includes(0) ? undefined : await openRegularFile(path);
    if (!file) {
      const message = `${kind.cmd}: no such file`;
      session.refuse(kind.errMissing, RejectReason.NotFound, message, {
        name: printableBytes(name),
      });
      return;
    }
    if (kind === ZRECV) {
      await offerZip(session, name, file);
      return;
    }
    offerFile(session, kind, name, path, file);
  });
}

/** RECV / MV: the size now, the file's bytes (then, for MV, its removal) once confirmed. */
function offerFile(
  session: SessionCore,
  kind: DownloadKind,
  name: Buffer,
  path: Buffer,
  file: { fd: number; size: number },
): void {
  session.reply(ascii(`${kind.sizePrefix}${file.size}\n`));
  awaitConfirm(session, {
    expect: kind.confirm,
    send: async () => {
      try {
        await sendFile(session, file.fd, file.size);
      } finally {
        closeServedFile(file.fd);
      }
      if (kind === MV) await fs.promises.unlink(path);
      const level = session.ctx.connectionLogLevel;
      if (session.ctx.logger.isLevelEnabled(level)) {
        session
          .logger()
          [level](
            { event: 'file_sent', cmd: kind.cmd, name: printableBytes(name), size: file.size },
            'sent file',
          );
      }
    },
    cancel: () => {
      closeServedFile(file.fd);
    },
  });
}

/** ZRECV: the file compressed into a one-member archive in memory, offered like RECV. */
async function offerZip(
  session: SessionCore,
  name: Buffer,
  file: { fd: number; size: number },
): Promise<void> {
  let zip: Buffer;
  try {
    if (file.size > session.config.maxDecompressedSize) {
      throw new Error(`file is larger than max_decompressed_size`);
    }
    // The whole file is in memory while it is compressed: share the ZSEND memory budget.
    zip = await session.ctx.zipGate.run(async () => {
      const data = file.size === 0 ? Buffer.alloc(0) : await readAt(file.fd, file.size, 0);
      return zipSingleFile(name.toString('utf8'), data);
    });
  } catch (err) {
    // The reference answers a compression failure with QUIT and drops (spec §3.4).
    session
      .logger()
      .error(
        { event: 'zip_failed', name: printableBytes(name), err: (err as Error).message },
        'ZRECV: could not compress file',
      );
    session.reply(Reply.quit);
    session.close();
    return;
  } finally {
    closeServedFile(file.fd);
  }
  session.reply(ascii(`${ZRECV.sizePrefix}${zip.length}\n`));
  awaitConfirm(session, {
    expect: ZRECV.confirm,
    send: () => writeToPeer(session, zip),
    cancel: () => undefined,
  });
}
