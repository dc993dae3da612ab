// The import boundary between the rooms of src/ (eslint.rooms.js, run by `npm run check`):
// another room only through its index.ts, only the rooms listed, never in a cycle.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';

/** The ESLint configuration helper (plain JavaScript at the repository root). */
interface RoomsModule {
  readonly ROOMS: Record<string, string[]>;
  readonly roomBoundaries: () => Linter.Config[];
}
const { ROOMS, roomBoundaries } = (await import(
  new URL('../../eslint.rooms.js', import.meta.url).href
)) as RoomsModule;

function problems(file: string, code: string): string[] {
  const linter = new Linter({ configType: 'flat', cwd: process.cwd() });
  const config = [
    { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
    ...roomBoundaries(),
  ];
  return linter
    .verify(code, config, { filename: `${process.cwd()}/${file}` })
    .map((m) => m.message);
}

test('a room enters another through its index.ts, and only the rooms it may import', () => {
  assert.deepEqual(problems('src/ha/x.ts', "import { a } from '../core/index.js';"), []);
  assert.deepEqual(problems('src/agent/x.ts', "import { a } from '../tentacle/index.js';"), []);
  assert.match(
    problems('src/ha/x.ts', "import { a } from '../core/errors.js';").join('\n'),
    /Enter src\/core through its index\.ts/,
  );
  assert.match(
    problems('src/dataserver/xml/x.ts', "export { a } from '../../db/pool.js';").join('\n'),
    /Enter src\/db through its index\.ts/,
  );
  assert.match(
    problems('src/ha/x.ts', "import type { a } from '../tentacle/index.js';").join('\n'),
    /src\/ha may not import src\/tentacle/,
  );
  assert.match(
    problems('src/core/x.ts', "import { a } from '../dataserver/index.js';").join('\n'),
    /src\/core may not import src\/dataserver \(allowed: none/,
  );
  assert.match(
    problems('src/http/x.ts', "import { a } from '../main.js';").join('\n'),
    /Only the entry point imports main\.ts/,
  );
  // Inside a room any file may import any other.
  assert.deepEqual(problems('src/dataserver/xml/x.ts', "import { a } from '../types.js';"), []);
  // The composition root too goes through index.ts.
  assert.deepEqual(problems('src/main.ts', "import { a } from './http/index.js';"), []);
  assert.match(
    problems('src/main.ts', "import { a } from './http/server.js';").join('\n'),
    /Enter src\/http through its index\.ts/,
  );
});

test('the room graph is acyclic: a cycle fails when the configuration loads', () => {
  const saved = ROOMS['core'] ?? [];
  ROOMS['core'] = ['cli'];
  try {
    assert.throws(() => roomBoundaries(), /rooms import in a cycle: core → cli → core/);
  } finally {
    ROOMS['core'] = saved;
  }
  assert.doesNotThrow(() => roomBoundaries());
});
