import { authenticate } from './auth.js';
import { confirmed } from './confirm.js';
import type { SessionCore } from './core.js';
import { download } from './download.js';
import { list } from './listing.js';
import { SessionState } from './state.js';
import { startUpload } from './upload.js';
import { LS_PREFIX, MV, QUIT, RECV, SEND, startsWith, ZRECV, ZSEND } from './wire.js';

/** A line from the peer: the PASS line, a command, or a download's confirmation. */
export function dispatchLine(session: SessionCore, line: Buffer): void {
  switch (session.state) {
    case SessionState.Auth:
      authenticate(session, line);
      return;
    case SessionState.Command:
      runCommand(session, line);
      return;
    case SessionState.Confirm:
      confirmed(session, line);
      return;
    case SessionState.Body:
    case SessionState.Work:
    case SessionState.Relay:
    case SessionState.Closed:
      return;
  }
}

/** A command line, routed to its family by its first byte (LS and MV only in insecure mode). */
function runCommand(session: SessionCore, line: Buffer): void {
  switch (line[0] ?? 0) {
    case 0x53: // S
      if (startsWith(line, SEND.prefix)) {
        startUpload(session, line, SEND);
        return;
      }
      break;
    case 0x5a: // Z
      if (startsWith(line, ZSEND.prefix)) {
        startUpload(session, line, ZSEND);
        return;
      }
      if (startsWith(line, ZRECV.prefix)) {
        download(session, line, ZRECV);
        return;
      }
      break;
    case 0x52: // R
      if (startsWith(line, RECV.prefix)) {
        download(session, line, RECV);
        return;
      }
      break;
    case 0x51: // Q
      if (line.equals(QUIT)) {
        if (session.ctx.logger.isLevelEnabled('debug')) {
          session.logger().debug({ event: 'quit' }, 'client quit');
        }
        session.close();
        return;
      }
      break;
    case 0x4c: // L
      if (session.config.insecure && startsWith(line, LS_PREFIX)) {
        list(session, line);
        return;
      }
      break;
    case 0x4d: // M
      if (session.config.insecure && startsWith(line, MV.prefix)) {
        download(session, line, MV);
        return;
      }
      break;
    default:
      break;
  }
  session.unknownCommand(line);
}
