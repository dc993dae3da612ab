#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeError } from '../core/index.js';
import { runDeliveryCommand } from '../agent/index.js';
import {
  CLIENT_HELP,
  ClientUsageError,
  parseClientCommandLine,
  runPerlClient,
  type ClientIo,
} from '../tentacle/index.js';

/**
 * `tentacle-client`: a drop-in for the reference `tentacle_client` (same options, output lines
 * and exit codes), plus delivery with failover (`--config`, `--secondary-*`) and a shipper
 * (`--watch DIR`) when long options are given.
 */
export async function runTentacleClient(
  argv: readonly string[],
  io: ClientIo,
  signal?: AbortSignal,
): Promise<number> {
  let parsed;
  try {
    parsed = parseClientCommandLine(argv);
  } catch (err) {
    if (err instanceof ClientUsageError && err.showHelp) {
      io.err(err.message);
      io.out(CLIENT_HELP);
    } else io.err(`[err] ${describeError(err).message}`);
    return 1;
  }
  const { options, longOptions, files } = parsed;
  if (options.help || longOptions.some((o) => o.name === 'help')) {
    io.out(CLIENT_HELP);
    return 1;
  }
  if (longOptions.length > 0) {
    return runDeliveryCommand(parsed, io, signal);
  }
  return runPerlClient(options, files, io);
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  // A one-shot run dies on SIGTERM/SIGINT at once, as the reference does when an agent's alarm
  // kills it (the socket goes with the process, so no transfer completes later). The shipper
  // asks for a graceful stop instead: the file in flight finishes, then it exits; a second
  // signal forces the exit.
  const stop = new AbortController();
  let graceful = false;
  for (const signalName of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signalName, () => {
      if (!graceful || stop.signal.aborted) process.exit(signalName === 'SIGINT' ? 130 : 143);
      stop.abort();
    });
  }
  const io: ClientIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    cwd: process.cwd(),
    onLongRun: () => {
      graceful = true;
    },
  };
  runTentacleClient(process.argv.slice(2), io, stop.signal).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`[err] ${describeError(err).message}\n`);
      process.exitCode = 1;
    },
  );
}
