import { once } from 'node:events';
import pino from 'pino';
import { createMetricsRegistry, describeError, type Logger, readConfFile } from '../core/index.js';
import { createReporter, type ClientIo, type ParsedCommandLine } from '../tentacle/index.js';
import {
  DELIVERY_SETTINGS,
  deliveryFileWarnings,
  loadDeliveryConfig,
  type DeliveryConfig,
} from './config.js';
import { runDeliveryCycle } from './cycle.js';
import { createShipper } from './shipper.js';

/** Long options that are not delivery settings. */
const CONFIG_OPTION = 'config';

function cliLogger(level: string, io: ClientIo): Logger {
  // Structured lines on the error stream, so stdout keeps the reference's `[log]` format.
  return pino(
    { level, base: null },
    {
      write: (line: string) => {
        io.err(line.trimEnd());
      },
    },
  );
}

function collectFlags(longOptions: ParsedCommandLine['longOptions']): {
  configFile: string | undefined;
  flags: Map<string, string>;
} {
  let configFile: string | undefined;
  const flags = new Map<string, string>();
  for (const { name, value } of longOptions) {
    if (name === CONFIG_OPTION) {
      configFile = value;
      continue;
    }
    const key = name.replaceAll('-', '_');
    if (!(key in DELIVERY_SETTINGS)) throw new Error(`Unknown option --${name}.`);
    flags.set(key, value ?? '1');
  }
  return { configFile, flags };
}

/**
 * `tentacle-client` with delivery options: one agent cycle over the given files, or the
 * shipper with `--watch DIR`. Exit 0 when every file was delivered or kept in the buffer for a
 * later resend (its fate is ours now), 1 when one was dropped or the command line is wrong.
 */
export async function runDeliveryCommand(
  parsed: Pick<ParsedCommandLine, 'options' | 'longOptions' | 'files' | 'given'>,
  io: ClientIo,
  signal?: AbortSignal,
): Promise<number> {
  const { options, files } = parsed;
  const report = createReporter(options, io);
  let config: DeliveryConfig;
  let fileWarnings: string[] = [];
  try {
    if (options.getMode) throw new Error('Get mode (-g) does not combine with delivery options.');
    const { configFile, flags } = collectFlags(parsed.longOptions);
    const file = configFile === undefined ? undefined : readConfFile(configFile);
    if (file !== undefined) fileWarnings = deliveryFileWarnings(file);
    config = loadDeliveryConfig({
      ...(file === undefined ? {} : { file }),
      flags,
      perl: options,
      given: parsed.given,
    });
  } catch (err) {
    report.error(describeError(err).message);
    return 1;
  }
  const watching = config.watch;
  const level = options.quiet ? 'silent' : watching || options.verbose ? 'info' : 'warn';
  const logger = cliLogger(level, io);
  for (const warning of fileWarnings) logger.warn(warning);
  const registry = createMetricsRegistry({ defaultMetrics: false });

  if (watching) {
    const shipper = createShipper(config, watching, { logger, registry });
    try {
      if (watching.once) {
        const { remaining } = await shipper.runUntilIdle();
        if (remaining > 0) report.error(`${remaining} file(s) could not be shipped yet.`);
        return remaining > 0 ? 1 : 0;
      }
      io.onLongRun?.();
      await shipper.start();
      if (signal && !signal.aborted) await once(signal, 'abort');
      return 0;
    } catch (err) {
      report.error(describeError(err).message);
      return 1;
    } finally {
      await shipper.close();
    }
  }

  if (files.length === 0) {
    report.error('No files to send.');
    return 1;
  }
  try {
    const cycle = await runDeliveryCycle(config, files, { logger, registry });
    for (const [lane, names] of Object.entries(cycle.backlogDelivered)) {
      for (const name of names) report.log(`Buffered file '${name}' sent to the ${lane}`);
    }
    let failed = false;
    for (const file of cycle.files) {
      for (const lane of file.lanes) {
        if (lane.result === 'delivered') {
          report.log(`File '${file.name}' sent to the ${lane.target}`);
        } else if (lane.result === 'buffered') {
          report.log(`File '${file.name}' kept in the ${lane.lane} buffer (${lane.reason})`);
        } else {
          failed = true;
          report.error(`File '${file.name}' not delivered to the ${lane.lane}: ${lane.reason}`);
        }
      }
    }
    return failed ? 1 : 0;
  } catch (err) {
    report.error(describeError(err).message);
    return 1;
  }
}
