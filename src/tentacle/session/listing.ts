import fs from 'node:fs';
import { printableBytes } from '../../core/index.js';
import { RejectReason } from '../metrics.js';
import { awaitConfirm, writeToPeer } from './confirm.js';
import type { SessionCore } from './core.js';
import { folderFor } from './folders.js';
import {
  ascii,
  DOT_ENTRIES,
  hasForbidden,
  LF_BUF,
  LS_CONFIRM,
  LS_PREFIX,
  parseNameLine,
  Reply,
} from './wire.js';

/** LS (insecure mode): the listing of the storage folder or of the matching filter's folder. */
export function list(session: SessionCore, line: Buffer): void {
  const arg = parseNameLine(line, LS_PREFIX.length);
  if (!arg) {
    session.unknownCommand(line);
    return;
  }
  const forbidden = session.config.forbiddenBytes;
  if (hasForbidden(arg, forbidden)) {
    session.refuse(Reply.lsErr, RejectReason.InvalidName, 'LS refused', {
      arg: printableBytes(arg),
    });
    return;
  }
  const dir = folderFor(session, arg);
  session.work(async () => {
    let entries: Buffer[];
    try {
      entries = await fs.promises.readdir(dir, { encoding: 'buffer' });
    } catch {
      session.reply(Reply.lsErr);
      session.commandDone();
      return;
    }
    const parts = [DOT_ENTRIES];
    // Sorted for a stable listing (the reference sends readdir order).
    for (const e of entries.sort((a, b) => Buffer.compare(a, b))) {
      if (!hasForbidden(e, forbidden)) parts.push(e, LF_BUF);
    }
    const body = Buffer.concat(parts);
    session.reply(ascii(`LS SIZE ${body.length}\n`));
    awaitConfirm(session, {
      expect: LS_CONFIRM,
      send: () => writeToPeer(session, body),
      cancel: () => {},
    });
  });
}
