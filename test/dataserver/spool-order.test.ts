// An agent's packets are committed in the order it sent them, also when the spool holds more
// files than the queue takes at once (max_queue_files): a scan queues the oldest files of the
// whole spool, never a newer file of an agent while older ones stay on disk. (A crash-test run
// committed an agent's packet 15 before 9-14; compaction then dropped three history rows.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropFile, startHarness } from './harness.js';

const FILES = 12;
const CAPACITY = 3;

function packet(k: number): string {
  const mm = String(k * 5).padStart(2, '0');
  return `<?xml version='1.0' encoding='UTF-8'?>
<agent_data agent_name='ordered' group='Servers' os_name='Linux' interval='300' timestamp='2024/03/01 10:${mm}:00'>
<module><name>proc</name><type>generic_proc</type><data>${String(k % 2)}</data></module>
</agent_data>`;
}

const nameOf = (k: number) => `ordered.${String(1_700_000_000 + FILES - 1 - k)}.data`;
const roundOf = (name: string) => FILES - 1 - (Number(name.split('.')[1]) - 1_700_000_000);

test('a spool larger than the queue is processed oldest first, per agent in order', async () => {
  const h = await startHarness({ max_queue_files: String(CAPACITY), server_threshold: '1' });
  try {
    await h.ds.close(); // files go in while no server runs, as after a restart with a backlog
    // Names run against time (the spool's order is by modification time, spec §2.1), so that
    // neither name order nor the directory's own order can pass for it.
    for (let k = 0; k < FILES; k++) dropFile(h.dir, nameOf(k), packet(k), 1_709_280_000 + k);
    await h.restart();
    await h.ds.drain();
    const ledger = await h.rows('SELECT file_name FROM tingest_ledger ORDER BY seq');
    const rounds = ledger.map((r) => roundOf(String(r['file_name'])));
    assert.deepEqual(
      rounds,
      Array.from({ length: FILES }, (_, k) => k),
    );
    // proc alternates 0,1,0,…: every packet is a change, so none is compacted away.
    assert.equal(await h.count('SELECT COUNT(*) AS n FROM tagente_datos'), FILES);
  } finally {
    await h.close();
  }
});
