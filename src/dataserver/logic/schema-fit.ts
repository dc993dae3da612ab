/**
 * A parsed packet fitted to the columns it will be written to (src/db/column-limits.ts), before
 * the batch: under strict SQL mode one value past its column fails the whole batch, and the file
 * would end `_FAILED`, the path meant for our own bugs.
 *
 * - Lookup keys are refused (→ `_BADXML` with an event naming the field and the limit): the agent
 *   name (tagente.nombre) and module names (tagente_modulo.nombre), both as encoded. The
 *   reference's non-strict MySQL stored them cut short, so the next packet's lookup of the full
 *   name missed and created the agent or module again, once per packet.
 * - Every other text is cut on a character boundary, as the reference's database did.
 * - The agent interval is clamped to its column (INT UNSIGNED), as the reference's database did.
 *
 * Values derived later (event texts, encoded custom fields) are fitted where they are built.
 * Returns the same packet object when nothing needed fitting (the usual case).
 */
import { ErrorCode } from '../../core/index.js';
import {
  COLUMN_LIMITS,
  describeLimit,
  fitEncodedToColumn,
  fitsColumn,
  fitToColumn,
  integerRange,
  textSize,
  type TextLimit,
} from '../../db/index.js';
import type { AgentPacket, ModuleCreationTags, PacketModule, ParseFailure } from '../types.js';

const AGENT = COLUMN_LIMITS.tagente;
const MODULE = COLUMN_LIMITS.tagente_modulo;
/** tagente_estado.datos and tagente_datos_string.datos hold the same text. */
const DATUM = COLUMN_LIMITS.tagente_datos_string.datos;

/** Module tags copied into a text column at creation, with that column. */
const CREATION_TEXT: ReadonlyMap<string, TextLimit> = new Map<keyof ModuleCreationTags, TextLimit>([
  ['unit', MODULE.unit],
  ['str_warning', MODULE.str_warning],
  ['str_critical', MODULE.str_critical],
  ['custom_id', MODULE.custom_id],
  ['crontab', MODULE.cron_interval],
  ['critical_instructions', MODULE.critical_instructions],
  ['warning_instructions', MODULE.warning_instructions],
  ['unknown_instructions', MODULE.unknown_instructions],
]);

const [, INTERVAL_MAX] = integerRange(AGENT.intervalo);

export type SchemaFit =
  | { readonly packet: AgentPacket; readonly refused?: undefined }
  | { readonly packet?: undefined; readonly refused: ParseFailure };

function refusal(field: string, text: string, column: string, limit: TextLimit): SchemaFit {
  const size = `${String(textSize(text, limit))} ${limit.type === 'varchar' ? 'characters' : 'bytes'}`;
  return {
    refused: {
      code: ErrorCode.XmlValueTooLong,
      message: `${field} is ${size} once encoded; ${column} holds ${describeLimit(limit)}`,
      disposition: 'badxml',
    },
  };
}

/** Warnings named one by one; a hostile packet may hold thousands of cuts. */
const MAX_NOTES = 10;

/** Collects what was cut, for the packet's warnings. */
class Cuts {
  readonly notes: string[] = [];
  #more = 0;
  note(text: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(text);
    else this.#more++;
  }
  fit(text: string, limit: TextLimit, field: string): string {
    if (fitsColumn(text, limit)) return text;
    this.note(`${field} cut to ${describeLimit(limit)}`);
    return fitToColumn(text, limit);
  }
  /** The notes, with a count of those left unnamed. */
  all(): string[] {
    return this.#more === 0
      ? this.notes
      : [...this.notes, `${String(this.#more)} more values cut to their columns`];
  }
  fitOptional(text: string | undefined, limit: TextLimit, field: string): string | undefined {
    return text === undefined ? undefined : this.fit(text, limit, field);
  }
}

/** The start of a module name, for messages (whole characters). */
const preview = (name: string, chars: number) => fitToColumn(name, { type: 'varchar', chars });

/** The allocation-free check every packet takes; almost every module passes it. */
function moduleFits(m: PacketModule): boolean {
  if (m.description !== undefined && !fitsColumn(m.description, MODULE.descripcion)) return false;
  if (!fitsColumn(m.extendedInfo, MODULE.extended_info)) return false;
  for (const d of m.data) if (d.value !== undefined && !fitsColumn(d.value, DATUM)) return false;
  const creation = m.creation as Readonly<Record<string, string | undefined>>;
  for (const tag in creation) {
    const limit = CREATION_TEXT.get(tag);
    const text = creation[tag];
    if (limit !== undefined && text !== undefined && !fitsColumn(text, limit)) return false;
  }
  return true;
}

function fitModule(m: PacketModule, cuts: Cuts): PacketModule {
  const field = (name: string) => `module '${preview(m.name, 100)}' ${name}`;
  const creation: Record<string, string | undefined> = { ...m.creation };
  for (const [tag, limit] of CREATION_TEXT) {
    const text = creation[tag];
    if (text !== undefined) creation[tag] = cuts.fit(text, limit, field(tag));
  }
  return {
    ...m,
    creation,
    data: m.data.map((d) =>
      d.value === undefined ? d : { ...d, value: cuts.fit(d.value, DATUM, field('data')) },
    ),
    description: cuts.fitOptional(m.description, MODULE.descripcion, field('description')),
    extendedInfo: cuts.fit(m.extendedInfo, MODULE.extended_info, field('extended info')),
  };
}

/** The packet fitted to its columns, or the refusal of a lookup key that does not fit. */
export function fitPacketToSchema(packet: AgentPacket): SchemaFit {
  if (!fitsColumn(packet.agentNameEncoded, AGENT.nombre)) {
    return refusal('agent_name', packet.agentNameEncoded, 'tagente.nombre', AGENT.nombre);
  }
  for (const m of packet.modules) {
    if (!fitsColumn(m.nameEncoded, MODULE.nombre)) {
      return refusal(
        `module name '${preview(m.name, 40)}…'`,
        m.nameEncoded,
        'tagente_modulo.nombre',
        MODULE.nombre,
      );
    }
  }
  const cuts = new Cuts();
  let modules = packet.modules;
  for (let i = 0; i < packet.modules.length; i++) {
    const m = packet.modules[i];
    if (m === undefined || moduleFits(m)) continue;
    if (modules === packet.modules) modules = [...packet.modules];
    (modules as PacketModule[])[i] = fitModule(m, cuts);
  }
  const aliasEncoded = fitEncodedToColumn(packet.aliasEncoded, AGENT.alias);
  if (aliasEncoded !== packet.aliasEncoded) cuts.note('agent_alias cut');
  const interval = Math.min(packet.interval, INTERVAL_MAX);
  if (interval !== packet.interval) cuts.note(`interval clamped to ${String(INTERVAL_MAX)}`);
  const fitted: AgentPacket = {
    ...packet,
    aliasEncoded,
    description: cuts.fit(packet.description, AGENT.comentarios, 'description'),
    addresses: packet.addresses.map((a) => cuts.fit(a, AGENT.direccion, 'address')),
    osVersion: cuts.fitOptional(packet.osVersion, AGENT.os_version, 'os_version'),
    version: cuts.fitOptional(packet.version, AGENT.agent_version, 'version'),
    customId: cuts.fitOptional(packet.customId, AGENT.custom_id, 'custom_id'),
    urlAddress: cuts.fitOptional(packet.urlAddress, AGENT.url_address, 'url_address'),
    interval,
    modules,
  };
  if (cuts.notes.length === 0) return { packet };
  return { packet: { ...fitted, warnings: [...packet.warnings, ...cuts.all()] } };
}
