import { createHash } from 'node:crypto';

/**
 * The ledger identity of a spool file: sha256 of its name and content. A resend (agent buffer,
 * `always` mode, a crash between COMMIT and unlink) repeats both, while an agent without a
 * timestamp attribute that sends the same values twice sends them under two names, and both
 * packets count. A file over max_xml_size is refused unread (D-11): name, size and time stand for
 * its content.
 */
export function fileIdentity(
  name: string,
  read: Buffer | { readonly tooLarge: number },
  mtimeMs: number,
): Buffer {
  const hash = createHash('sha256').update(name).update('\0');
  if (Buffer.isBuffer(read)) hash.update(read);
  else hash.update(`too large:${String(read.tooLarge)}:${String(mtimeMs)}`);
  return hash.digest();
}
