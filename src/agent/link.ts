import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, ErrorCode, type Logger } from '../core/index.js';
import { TentacleClientError, connect, type ClientSession } from '../tentacle/index.js';
import type { Address, TargetConfig, TargetRole } from './config.js';

/** Longest connect attempt per address when a target lists several (ha.md §1.7). */
const MAX_CONNECT_PER_ADDRESS_MS = 5000;
const FILE_EXISTS_REPLY = /ERR \(file already exists\)$/;

/**
 * One delivery target (primary or secondary) and its open session, reused for many files.
 * Each file gets the whole `transfer_timeout` budget, connect included; when it runs out the
 * socket is destroyed, so the transfer cannot complete later and be resent as a duplicate.
 */
export interface TargetLink {
  readonly role: TargetRole;
  /** Resolves once the server confirmed the file is stored; rejects with the reason. */
  send(name: string, data: Buffer): Promise<void>;
  close(): Promise<void>;
}

interface OpenSession {
  readonly session: ClientSession;
  readonly abort: AbortController;
  readonly address: Address;
  used: boolean;
}

/**
 * Names whose body went out but whose confirmation never came back, per target: the server may
 * hold them. If a resend is refused with "file already exists", that copy is ours. Kept as
 * hidden marker files (`.unconfirmed.<target>.<name>`) so the fact survives to the next run;
 * hidden names are never listed, sent or counted by the buffer.
 */
export interface UnconfirmedStore {
  add(role: TargetRole, name: string): Promise<void>;
  /** True if `name` was marked; the mark is removed. */
  take(role: TargetRole, name: string): Promise<boolean>;
}

export function memoryUnconfirmedStore(): UnconfirmedStore {
  const marks = new Set<string>();
  return {
    add: (role, name) => {
      marks.add(`${role}/${name}`);
      return Promise.resolve();
    },
    take: (role, name) => Promise.resolve(marks.delete(`${role}/${name}`)),
  };
}

export function folderUnconfirmedStore(dir: string): UnconfirmedStore {
  const markPath = (role: TargetRole, name: string) => join(dir, `.unconfirmed.${role}.${name}`);
  return {
    async add(role, name) {
      await mkdir(dir, { recursive: true });
      await writeFile(markPath(role, name), '');
    },
    async take(role, name) {
      try {
        await unlink(markPath(role, name));
        return true;
      } catch {
        return false;
      }
    },
  };
}

export function createTargetLink(
  target: TargetConfig,
  deps: { logger: Logger; unconfirmed?: UnconfirmedStore },
): TargetLink {
  return new SessionTargetLink(target, deps.logger, deps.unconfirmed ?? memoryUnconfirmedStore());
}

class SessionTargetLink implements TargetLink {
  readonly role: TargetRole;
  readonly #target: TargetConfig;
  readonly #log: Logger;
  readonly #unconfirmed: UnconfirmedStore;
  #open: OpenSession | undefined;
  /** The controller of a connect in progress, so the transfer budget can stop it too. */
  #connecting: AbortController | undefined;
  /** Sticky: the address that last worked is tried first. */
  #preferred = 0;

  constructor(target: TargetConfig, logger: Logger, unconfirmed: UnconfirmedStore) {
    this.role = target.role;
    this.#target = target;
    this.#log = logger.child({ target: target.role });
    this.#unconfirmed = unconfirmed;
  }

  async send(name: string, data: Buffer): Promise<void> {
    const target = this.#target;
    const budget = { expired: false };
    const timer = setTimeout(() => {
      budget.expired = true;
      this.#connecting?.abort();
      this.#open?.abort.abort();
      this.#drop();
    }, target.transferTimeoutMs);
    try {
      await this.#attempt(name, data);
      await this.#unconfirmed.take(target.role, name);
    } catch (err) {
      if (err instanceof TentacleClientError && err.afterBody) {
        await this.#unconfirmed.add(target.role, name);
      }
      if (budget.expired) {
        throw new TentacleClientError(
          ErrorCode.TentacleTransferDeadline,
          `transfer_timeout of ${target.transferTimeoutMs / 1000}s exceeded; transfer aborted.`,
          { cause: err },
        );
      }
      if (
        err instanceof TentacleClientError &&
        err.code === ErrorCode.TentacleRejected &&
        FILE_EXISTS_REPLY.test(err.serverLine ?? '') &&
        (await this.#unconfirmed.take(target.role, name))
      ) {
        this.#log.info({ file: name }, 'earlier unconfirmed transfer had been stored; not resent');
        return;
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const current = this.#open;
    this.#open = undefined;
    await current?.session.quit();
  }

  #addressOrder(): Address[] {
    const all = this.#target.addresses;
    return [...all.slice(this.#preferred), ...all.slice(0, this.#preferred)];
  }

  async #openSession(abort: AbortController): Promise<OpenSession> {
    const target = this.#target;
    const order = this.#addressOrder();
    const connectTimeoutMs = Math.min(
      target.ioTimeoutMs,
      order.length > 1
        ? Math.min(MAX_CONNECT_PER_ADDRESS_MS, target.transferTimeoutMs / order.length)
        : target.transferTimeoutMs,
    );
    let lastError: unknown;
    for (const address of order) {
      try {
        const session = await connect({
          host: address.host,
          port: address.port,
          timeoutMs: target.ioTimeoutMs,
          connectTimeoutMs,
          signal: abort.signal,
          ...(target.password === undefined ? {} : { password: target.password }),
          ...(target.tls === undefined ? {} : { tls: target.tls }),
        });
        this.#preferred = target.addresses.indexOf(address);
        return { session, abort, address, used: false };
      } catch (err) {
        lastError = err;
        if (abort.signal.aborted) break;
        this.#log.debug({ address, err: describeError(err) }, 'connect failed');
      }
    }
    throw lastError;
  }

  #drop(): void {
    this.#open?.session.destroy();
    this.#open = undefined;
  }

  async #attempt(name: string, data: Buffer): Promise<void> {
    const target = this.#target;
    let current = this.#open;
    if (!current) {
      this.#connecting = new AbortController();
      try {
        current = await this.#openSession(this.#connecting);
      } finally {
        this.#connecting = undefined;
      }
      this.#open = current;
    }
    const reused = current.used;
    current.used = true;
    try {
      if (target.compress) await current.session.zsend(name, data);
      else await current.session.send(name, data);
    } catch (err) {
      const failure = err instanceof TentacleClientError ? err : undefined;
      // A refusal leaves the session usable; anything else ends it.
      if (failure?.code !== ErrorCode.TentacleRejected) this.#drop();
      // The server may have closed an idle kept-alive session: nothing was stored, retry once.
      if (reused && failure?.code === ErrorCode.TentacleClosed && !failure.afterBody) {
        return this.#attempt(name, data);
      }
      // An address that connects but then fails (hung, resets) loses its place: the next
      // transfer starts with the next address of the list.
      if (failure?.code !== ErrorCode.TentacleRejected && target.addresses.length > 1) {
        this.#preferred = (target.addresses.indexOf(current.address) + 1) % target.addresses.length;
      }
      throw err;
    }
  }
}
