import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32, deflateRawSync } from 'node:zlib';
import { isZip, unzipFirstMember, zipSingleFile } from '../../src/tentacle/zip.js';

const MIB = 1024 * 1024;

interface MemberSpec {
  name: string;
  data: Buffer;
  method?: 0 | 8 | 12;
  /** Perl's IO::Compress::Zip style: zero sizes in the local header, a PK\x07\x08 descriptor. */
  descriptor?: boolean;
}

/** Builds archives the way other zip writers do, to test the reader independently of our writer. */
function buildZip(members: MemberSpec[], withCentralDirectory = true): Buffer {
  const parts: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const method = m.method ?? 8;
    const payload = method === 8 ? deflateRawSync(m.data) : m.data;
    const name = Buffer.from(m.name);
    const crc = crc32(m.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(m.descriptor ? 8 : 0, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(m.descriptor ? 0 : crc, 14);
    local.writeUInt32LE(m.descriptor ? 0 : payload.length, 18);
    local.writeUInt32LE(m.descriptor ? 0 : m.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const chunk = [local, name, payload];
    if (m.descriptor) {
      const desc = Buffer.alloc(16);
      desc.writeUInt32LE(0x08074b50, 0);
      desc.writeUInt32LE(crc, 4);
      desc.writeUInt32LE(payload.length, 8);
      desc.writeUInt32LE(m.data.length, 12);
      chunk.push(desc);
    }
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(m.descriptor ? 8 : 0, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(payload.length, 20);
    central.writeUInt32LE(m.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    const bytes = Buffer.concat(chunk);
    parts.push(bytes);
    offset += bytes.length;
  }
  if (withCentralDirectory) {
    const cd = Buffer.concat(centrals);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(members.length, 8);
    end.writeUInt16LE(members.length, 10);
    end.writeUInt32LE(cd.length, 12);
    end.writeUInt32LE(offset, 16);
    parts.push(cd, end);
  }
  return Buffer.concat(parts);
}

test('zipSingleFile round-trips and names the member by its base name only', () => {
  const data = Buffer.from('<agent_data>hello</agent_data>\n'.repeat(20));
  const zip = zipSingleFile('/var/spool/pandora/data_in/z1.data', data);
  assert.ok(isZip(zip));
  assert.deepEqual(unzipFirstMember(zip, MIB), data);
  assert.equal(zip.includes(Buffer.from('/var/spool')), false);
  assert.ok(zip.includes(Buffer.from('z1.data')));
});

test('reads Perl-style archives: data descriptor, with and without central directory', () => {
  const data = Buffer.from('module data '.repeat(100));
  for (const withCd of [true, false]) {
    const zip = buildZip([{ name: 'z1.data', data, descriptor: true }], withCd);
    assert.deepEqual(unzipFirstMember(zip, MIB), data, `central directory: ${withCd}`);
  }
});

test('stored members, first of two members, and an empty file', () => {
  assert.deepEqual(
    unzipFirstMember(buildZip([{ name: 's', data: Buffer.from('stored'), method: 0 }]), MIB),
    Buffer.from('stored'),
  );
  const two = buildZip([
    { name: 'first', data: Buffer.from('FIRST\n') },
    { name: 'second', data: Buffer.from('SECOND\n') },
  ]);
  assert.deepEqual(unzipFirstMember(two, MIB), Buffer.from('FIRST\n'));
  assert.equal(unzipFirstMember(zipSingleFile('empty.data', Buffer.alloc(0)), MIB).length, 0);
  const emptyPerl = buildZip([{ name: 'e', data: Buffer.alloc(0), descriptor: true }]);
  assert.equal(unzipFirstMember(emptyPerl, MIB).length, 0);
});

test('garbage, truncation and unsupported methods are ERR_ZIP_INVALID', () => {
  const cases = [
    Buffer.from('PK\x03\x04garbage!', 'latin1'),
    zipSingleFile('a', Buffer.from('x'.repeat(1000))).subarray(0, 40),
    buildZip([{ name: 'b', data: Buffer.from('bzip'), method: 12 }]),
    Buffer.from('hello'),
  ];
  for (const zip of cases) {
    assert.throws(() => unzipFirstMember(zip, MIB), { code: 'ERR_ZIP_INVALID' });
  }
});

test('a zip bomb is refused at the cap, whether or not sizes are declared', () => {
  const zeros = Buffer.alloc(50 * MIB);
  const declared = zipSingleFile('bomb.data', zeros);
  assert.ok(declared.length < 100_000);
  assert.throws(() => unzipFirstMember(declared, MIB), { code: 'ERR_ZIP_TOO_LARGE' });
  const undeclared = buildZip([{ name: 'bomb', data: zeros, descriptor: true }], false);
  assert.throws(() => unzipFirstMember(undeclared, MIB), { code: 'ERR_ZIP_TOO_LARGE' });
  // Exactly at the cap is fine.
  assert.equal(unzipFirstMember(zipSingleFile('ok', Buffer.alloc(MIB)), MIB).length, MIB);
});
