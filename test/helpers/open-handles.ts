/**
 * Preloaded into every test file's process (scripts/run-tests.mjs). When a file's tests and
 * hooks are done but something still keeps the process alive (a socket, a timer, a child), the
 * file used to end as the runner's 300 s timeout with no clue. Instead, REPORT_AFTER_MS after the
 * last hook this lists what is still open and exits non-zero, so the leak names itself.
 */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { after } from 'node:test';

const REPORT_AFTER_MS = Number(process.env['TEST_OPEN_HANDLE_REPORT_MS'] ?? '20000');

function describeHandle(handle: unknown): string {
  if (handle instanceof net.Server) {
    const a = handle.address();
    return `server listening on ${typeof a === 'string' ? a : `${a?.address ?? '?'}:${String(a?.port)}`}`;
  }
  if (handle instanceof net.Socket) {
    return (
      `socket ${String(handle.localAddress)}:${String(handle.localPort)} -> ` +
      `${String(handle.remoteAddress)}:${String(handle.remotePort)} ` +
      `(destroyed=${String(handle.destroyed)}, readyState=${handle.readyState}, ` +
      `listeners=${handle.eventNames().map(String).join(',')})`
    );
  }
  const child = handle as Partial<ChildProcess>;
  if (typeof child.pid === 'number' && Array.isArray(child.spawnargs)) {
    return `child process ${String(child.pid)}: ${child.spawnargs.join(' ').slice(0, 160)}`;
  }
  const name = (handle as { constructor?: { name?: string } }).constructor?.name ?? typeof handle;
  return name;
}

after(() => {
  setTimeout(() => {
    const getHandles = (process as unknown as { _getActiveHandles?: () => unknown[] })
      ._getActiveHandles;
    const stdio = new Set<unknown>([process.stdin, process.stdout, process.stderr]);
    const handles = (getHandles ? getHandles.call(process) : []).filter((h) => !stdio.has(h));
    const lines = [
      `test file still running ${String(REPORT_AFTER_MS)} ms after its last hook; open:`,
      `  resources: ${process.getActiveResourcesInfo().join(', ')}`,
      ...handles.map((h) => `  - ${describeHandle(h)}`),
    ];
    process.stderr.write(`${lines.join('\n')}\n`);
    process.exit(1);
  }, REPORT_AFTER_MS).unref();
});
