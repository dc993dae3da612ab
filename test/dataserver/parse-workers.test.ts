import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { X, startHarness } from './harness.js';

test('parse worker threads: packets become rows, bad XML still goes to _BADXML', async (t) => {
  const h = await startHarness({ dataserver_threads: '2' });
  t.after(() => h.close());
  const values = Array.from({ length: 30 }, (_, i) => String(i + 1));
  const names = await h.feed(
    ...values.map((v, i) => X(`10:${String(i).padStart(2, '0')}:00`, v)),
    '<agent_data agent_name="x">',
  );
  assert.equal(await h.count('SELECT COUNT(*) n FROM tagente_datos'), 30);
  const [s] = await h.rows('SELECT datos FROM tagente_estado');
  assert.equal(s?.['datos'], '30.00000');
  assert.ok(existsSync(join(h.dir, `${names.at(-1) ?? ''}_BADXML`)));
});
