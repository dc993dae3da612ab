// The rooms of src/ and what each may import (docs/architecture.md), checked by ESLint's
// no-restricted-imports: another room is entered only through its index.ts, only rooms listed
// here may be imported, and the list itself must stay acyclic (checked below, when the
// configuration loads), so no import cycle between rooms can pass `npm run check`.

/** Room → the rooms it may import (through their index.ts). `main.ts` may import every room. */
export const ROOMS = {
  core: [],
  pandora: [],
  db: ['core', 'pandora'],
  tentacle: ['core'],
  queue: ['core', 'pandora'],
  dataserver: ['core', 'db', 'pandora', 'queue'],
  ha: ['core', 'db', 'pandora'],
  http: ['core'],
  agent: ['core', 'tentacle'],
  cli: ['core', 'tentacle', 'agent'],
  serve: ['core', 'db', 'tentacle'],
};

/**
 * Deep imports that predate the check, in files another branch (issue 12, hostile input) edits
 * at the same time: file → rooms it may still enter past index.ts. Remove each entry once the
 * file imports `../core/index.js` (after that merge). The parse worker's graph (parse-worker.ts,
 * xml/*) imports only core/errors.js: measure a worker's start-up before routing it through the
 * barrel, which also loads pino and prom-client.
 */
export const DEEP_IMPORTS_TO_REMOVE = {
  'src/dataserver/parse-worker.ts': ['core'],
  'src/dataserver/xml/agent-packet.ts': ['core'],
  'src/dataserver/xml/decode.ts': ['core'],
  'src/dataserver/xml/parse.ts': ['core'],
  'src/dataserver/xml/tree.ts': ['core'],
  // In the parse worker's graph (xml/agent-packet.ts): db/index.js would load mysql2 there.
  'src/dataserver/logic/time.ts': ['db'],
};

/** Throws when the room graph has a cycle (or names an unknown room). */
function assertAcyclic(rooms) {
  const state = new Map(); // room → 'visiting' | 'done'
  const visit = (room, path) => {
    if (!(room in rooms)) throw new Error(`eslint.rooms.js: unknown room "${room}"`);
    if (state.get(room) === 'done') return;
    if (state.get(room) === 'visiting') {
      throw new Error(`eslint.rooms.js: rooms import in a cycle: ${[...path, room].join(' → ')}`);
    }
    state.set(room, 'visiting');
    for (const next of rooms[room]) visit(next, [...path, room]);
    state.set(room, 'done');
  };
  for (const room of Object.keys(rooms)) visit(room, []);
}

const escape = (text) => text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Import patterns forbidden to a file `depth` folders below src/ (room files: depth 1+). */
function forbidden(from, depth, deepAllowed = []) {
  const up = depth === 0 ? '\\./' : `(\\.\\./){${depth}}`;
  const patterns = [];
  for (const room of Object.keys(ROOMS)) {
    if (room === from) continue;
    const allowed = from === undefined || ROOMS[from].includes(room);
    if (!allowed) {
      patterns.push({
        regex: `^${up}${escape(room)}(/|$)`,
        message: `src/${from} may not import src/${room} (allowed: ${ROOMS[from].join(', ') || 'none'}; docs/architecture.md).`,
      });
    } else if (!deepAllowed.includes(room)) {
      patterns.push({
        regex: `^${up}${escape(room)}/(?!index\\.js$)`,
        message: `Enter src/${room} through its index.ts ('…/${room}/index.js'; docs/architecture.md).`,
      });
    }
  }
  if (from !== undefined) {
    patterns.push({
      regex: `^${up}main\\.js$`,
      message: 'Only the entry point imports main.ts.',
    });
  }
  return patterns;
}

function rule(patterns) {
  return { 'no-restricted-imports': ['error', { patterns }] };
}

/** Flat-config blocks: one per room and folder depth, then the listed exceptions. */
export function roomBoundaries() {
  assertAcyclic(ROOMS);
  // The composition root: main.ts and the modules it alone imports (reload.ts).
  const blocks = [{ files: ['src/*.ts'], rules: rule(forbidden(undefined, 0)) }];
  for (const room of Object.keys(ROOMS)) {
    for (let below = 0; below < 4; below++) {
      blocks.push({
        files: [`src/${room}/${'*/'.repeat(below)}*.ts`],
        rules: rule(forbidden(room, below + 1)),
      });
    }
  }
  for (const [file, rooms] of Object.entries(DEEP_IMPORTS_TO_REMOVE)) {
    const parts = file.split('/');
    const room = parts.length === 2 ? undefined : parts[1];
    blocks.push({ files: [file], rules: rule(forbidden(room, parts.length - 2, rooms)) });
  }
  return blocks;
}
