/**
 * Test harness for the pure dataserver core: real XML through the real parser into
 * processPacket, and an in-memory writer that applies each outcome the way the batch writer
 * does (ids filled into refs, write-through states, event auto-validation). No database.
 */
import './logic-tz.js';
import assert from 'node:assert/strict';
import { DEFAULT_LOGIC_CONFIG, processPacket } from '../../src/dataserver/logic/index.js';
import {
  lookupKey,
  type AgentState,
  type Catalog,
  type LogicConfig,
  type ModuleState,
  type ModuleStatus,
  type NewAgentRow,
  type NewModuleRow,
  type PacketOutcome,
  type ParseOptions,
} from '../../src/dataserver/types.js';
import { DEFAULT_PARSE_OPTIONS, parseAgentXml } from '../../src/dataserver/xml/index.js';
import { safeInput } from '../../src/pandora/index.js';

/** T0 = 2024-03-01 10:00:00 UTC (tests run with TZ=UTC). */
export const T0 = 1709287200;

const GROUPS: Record<string, number> = { Servers: 2, Unknown: 10, Databases: 8 };
const TYPES: readonly [number, string][] = [
  [1, 'generic_data'],
  [2, 'generic_proc'],
  [3, 'generic_data_string'],
  [4, 'generic_data_inc'],
  [5, 'generic_data_inc_abs'],
  [21, 'async_proc'],
  [22, 'async_data'],
  [23, 'async_string'],
  [100, 'keep_alive'],
];

export function createTestCatalog(agentIds: Map<string, number> = new Map()): Catalog {
  const groups = new Map(Object.entries(GROUPS).map(([n, id]) => [lookupKey(safeInput(n)), id]));
  const typesByName = new Map(TYPES.map(([id, name]) => [name, { id, name }]));
  const typesById = new Map(TYPES.map(([id, name]) => [id, { id, name }]));
  return {
    groupIdByName: (n) => groups.get(lookupKey(n)),
    groupExists: (id) => [...groups.values()].includes(id),
    osIdByName: (n) => (n.toLowerCase().includes('mainframe') ? 16 : undefined),
    moduleTypeByName: (n) => typesByName.get(n),
    moduleTypeById: (id) => typesById.get(id),
    moduleGroupIdByName: (n) => (n === 'system' ? 4 : undefined),
    tagIdByName: (n) => ({ linux: 1, web: 2 })[n],
    customFieldIdByName: (n) => (lookupKey(n) === 'serial' ? 7 : undefined),
    agentIdByName: (n) => agentIds.get(lookupKey(n)),
    satelliteIdByName: () => undefined,
  };
}

export interface StoredEvent {
  id: number;
  agentId: number;
  moduleId: number;
  groupId: number;
  evento: string;
  type: string;
  criticity: number;
  estado: number;
  ackUtimestamp: number;
  data: string;
  moduleStatus: number;
}

export interface HarnessOptions {
  config?: Partial<LogicConfig>;
  parse?: Partial<ParseOptions>;
  serverId?: number;
  startedAtSec?: number;
  /** Wraps the test catalog (e.g. to make a lookup fail). */
  catalog?: (base: Catalog) => Catalog;
}

/** A fake database of our own interfaces: what the batch writer would leave behind. */
export function createHarness(options: HarnessOptions = {}) {
  const config: LogicConfig = { ...DEFAULT_LOGIC_CONFIG, ...options.config };
  const parseOptions: ParseOptions = { ...DEFAULT_PARSE_OPTIONS, ...options.parse };
  const agentIds = new Map<string, number>();
  const baseCatalog = createTestCatalog(agentIds);
  const catalog = options.catalog ? options.catalog(baseCatalog) : baseCatalog;
  const agents = new Map<string, AgentState>();
  const agentRows = new Map<number, NewAgentRow>();
  const modulesByAgent = new Map<number, Map<string, ModuleState>>();
  const moduleRows = new Map<number, NewModuleRow>();
  const numeric: { moduleId: number; datos: string; utimestamp: number }[] = [];
  const strings: { moduleId: number; datos: string; utimestamp: number }[] = [];
  const events: StoredEvent[] = [];
  const outcomes: PacketOutcome[] = [];
  let nextId = 1;

  function apply(outcome: PacketOutcome): void {
    outcomes.push(outcome);
    if (outcome.newAgent !== undefined) {
      outcome.newAgent.ref.id = nextId++;
      agentRows.set(outcome.newAgent.ref.id, outcome.newAgent);
      agentIds.set(lookupKey(outcome.newAgent.nombre), outcome.newAgent.ref.id);
    }
    for (const m of outcome.newModules) {
      m.ref.id = nextId++;
      moduleRows.set(m.ref.id, m);
    }
    for (const s of outcome.statusWrites) if (s.insert) s.statusRef.id = nextId++;
    for (const row of outcome.numericHistory) {
      numeric.push({ moduleId: row.ref.id, datos: row.datos, utimestamp: row.utimestamp });
    }
    for (const row of outcome.stringHistory) {
      strings.push({ moduleId: row.ref.id, datos: row.datos, utimestamp: row.utimestamp });
    }
    for (const e of outcome.events) {
      const moduleId = e.moduleRef?.id ?? 0;
      if (e.autoValidate) {
        for (const old of events) {
          if (old.estado === 0 && old.moduleId === moduleId) {
            old.estado = 1;
            old.ackUtimestamp = e.utimestamp;
          }
        }
      }
      events.push({
        id: events.length + 1,
        agentId: e.agentRef?.id ?? 0,
        moduleId,
        groupId: e.id_grupo,
        evento: e.evento,
        type: e.event_type,
        criticity: e.criticity,
        estado: e.estado,
        ackUtimestamp: e.ack_utimestamp,
        data: e.data,
        moduleStatus: e.module_status,
      });
    }
    const agent = outcome.agentState;
    if (agent !== undefined) {
      agents.set(lookupKey(agent.nameEncoded), agent);
      let modules = modulesByAgent.get(agent.ref.id);
      if (modules === undefined) {
        modules = new Map();
        modulesByAgent.set(agent.ref.id, modules);
      }
      for (const m of outcome.moduleStates) modules.set(lookupKey(m.nameEncoded), m);
    }
  }

  const harness = {
    config,
    catalog,
    agents,
    agentRows,
    moduleRows,
    numeric,
    strings,
    events,
    outcomes,
    /** Parses `xml` and processes it at server time `nowSec` (default T0 + 1). */
    feed(xml: string | Uint8Array, at: { nowSec?: number; mtimeSec?: number } = {}): PacketOutcome {
      const nowSec = at.nowSec ?? T0 + 1;
      const bytes = typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml;
      const packet = parseAgentXml(
        bytes,
        { nowSec, mtimeSec: at.mtimeSec ?? nowSec },
        parseOptions,
      );
      const agent = agents.get(lookupKey(packet.agentNameEncoded));
      const modules =
        agent === undefined ? new Map() : (modulesByAgent.get(agent.ref.id) ?? new Map());
      const outcome = processPacket(packet, agent, modules, {
        config,
        catalog,
        nowSec,
        startedAtSec: options.startedAtSec ?? 0,
        serverId: options.serverId ?? 1,
        serverName: 'pandora01',
      });
      apply(outcome);
      return outcome;
    },
    agent(name = 'host1'): AgentState {
      const agent = agents.get(lookupKey(safeInput(name)));
      if (agent === undefined) throw new Error(`no agent ${name}`);
      return agent;
    },
    module(moduleName: string, agentName = 'host1'): ModuleState {
      const agent = harness.agent(agentName);
      const m = modulesByAgent.get(agent.ref.id)?.get(lookupKey(safeInput(moduleName)));
      if (m === undefined) throw new Error(`no module ${moduleName}`);
      return m;
    },
    status(moduleName: string, agentName = 'host1'): ModuleStatus {
      const s = harness.module(moduleName, agentName).status;
      if (s === undefined) throw new Error(`no status row for ${moduleName}`);
      return s;
    },
    history(moduleName: string, agentName = 'host1') {
      const id = harness.module(moduleName, agentName).ref.id;
      return [...numeric, ...strings]
        .filter((r) => r.moduleId === id)
        .map((r) => [r.datos, r.utimestamp] as const);
    },
    /** Test-only edit of a cached module, as a DBA would do in the console. */
    editModule(moduleName: string, edit: (m: ModuleState) => ModuleState, agentName = 'host1') {
      const agent = harness.agent(agentName);
      const key = lookupKey(safeInput(moduleName));
      const map = modulesByAgent.get(agent.ref.id);
      const m = map?.get(key);
      if (map === undefined || m === undefined) throw new Error(`no module ${moduleName}`);
      map.set(key, edit(m));
    },
    /** Test-only insert of a module the console created (not from XML). */
    putModule(state: ModuleState, agentName = 'host1') {
      const agent = harness.agent(agentName);
      modulesByAgent.get(agent.ref.id)?.set(lookupKey(state.nameEncoded), state);
    },
    editAgent(edit: (a: AgentState) => AgentState, agentName = 'host1') {
      const key = lookupKey(safeInput(agentName));
      const a = agents.get(key);
      if (a === undefined) throw new Error(`no agent ${agentName}`);
      agents.set(key, edit(a));
    },
  };
  return harness;
}

export function xmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/'/g, '&apos;')
    .replace(/"/g, '&quot;');
}

export interface ModuleSpec {
  name?: string;
  type?: string;
  data?: string;
  /** Extra raw XML inside <module>. */
  extra?: string;
}

/** Spec §9's X(t, v) generalised: agent `host1`, one or more modules. */
export function agentXml(
  time: string | undefined,
  modules: ModuleSpec[] | string = [{}],
  attrs: Record<string, string> = {},
): string {
  const all: Record<string, string> = {
    agent_name: 'host1',
    group: 'Servers',
    os_name: 'Linux',
    interval: '300',
    ...(time === undefined ? {} : { timestamp: time.includes('/') ? time : `2024/03/01 ${time}` }),
    ...attrs,
  };
  const attrText = Object.entries(all)
    .map(([k, v]) => `${k}='${xmlEscape(v)}'`)
    .join(' ');
  const body =
    typeof modules === 'string'
      ? modules
      : modules
          .map(
            (m) =>
              `<module><name><![CDATA[${m.name ?? 'cpu'}]]></name><type>${m.type ?? 'generic_data'}</type>${m.extra ?? ''}${m.data === undefined ? '' : `<data><![CDATA[${m.data}]]></data>`}</module>`,
          )
          .join('\n');
  return `<?xml version='1.0' encoding='UTF-8'?>\n<agent_data ${attrText}>\n${body}\n</agent_data>\n`;
}

/** X(t, v) of spec §9: one generic_data module `cpu`. */
export function X(time: string, value: string, extra = '', type = 'generic_data'): string {
  return agentXml(time, [{ name: 'cpu', type, data: value, extra }]);
}

/** Every ref an outcome uses must be inserted before use or already have an id. */
export function checkOutcomeRefs(outcome: PacketOutcome): void {
  const inserted = new Set<object>(outcome.newModules.map((m) => m.ref));
  const known = (ref: { id: number }) => ref.id > 0 || inserted.has(ref);
  for (const w of outcome.statusWrites)
    assert.ok(known(w.ref), 'status write of an unknown module');
  for (const r of [...outcome.numericHistory, ...outcome.stringHistory]) {
    assert.ok(known(r.ref), 'history row of an unknown module');
  }
  for (const e of outcome.events) if (e.moduleRef) assert.ok(known(e.moduleRef));
  const refs = outcome.statusWrites.map((w) => w.ref);
  assert.equal(new Set(refs).size, refs.length, 'one status write per module per packet');
  for (const m of outcome.newModules) {
    assert.equal(m.agentRef, outcome.newAgent?.ref ?? outcome.agentUpdate?.ref);
  }
}
