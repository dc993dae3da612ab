import type { Pool, RowDataPacket } from 'mysql2/promise';
import { lookupKey, type Catalog, type ModuleTypeRow } from '../types.js';

/**
 * The small reference tables (groups, OS names, module types and groups, tags, custom fields,
 * satellite servers) held in memory and reloaded periodically, so a console change shows up
 * without a restart. Agent ids by name (parents) are not cached: the writer resolves the names
 * a batch needs inside its transaction and hands them in with `withAgents`.
 */
export interface CatalogData {
  readonly groups: Map<string, number>;
  readonly groupIds: Set<number>;
  readonly os: { id: number; name: string }[];
  readonly typesByName: Map<string, ModuleTypeRow>;
  readonly typesById: Map<number, ModuleTypeRow>;
  readonly moduleGroups: Map<string, number>;
  readonly tags: Map<string, number>;
  readonly customFields: Map<string, number>;
  readonly satellites: Map<string, number>;
}

export async function loadCatalogData(pool: Pool): Promise<CatalogData> {
  const [results] = await pool.query<RowDataPacket[][]>(
    `SELECT id_grupo, nombre FROM tgrupo ORDER BY id_grupo;
     SELECT id_os, name FROM tconfig_os ORDER BY id_os;
     SELECT id_tipo, nombre FROM ttipo_modulo ORDER BY id_tipo;
     SELECT id_mg, name FROM tmodule_group ORDER BY id_mg;
     SELECT id_tag, name FROM ttag ORDER BY id_tag;
     SELECT id_field, name FROM tagent_custom_fields ORDER BY id_field;
     SELECT id_server, name FROM tserver WHERE server_type = 13 ORDER BY id_server`,
  );
  const [groups = [], os = [], types = [], moduleGroups = [], tags = [], fields = [], sats = []] =
    results;
  const byName = (rows: RowDataPacket[], id: string, name: string) => {
    const map = new Map<string, number>();
    // First row wins for duplicate names, as with the reference's single-row SELECT.
    for (const r of rows) {
      const key = lookupKey(String(r[name] ?? ''));
      if (!map.has(key)) map.set(key, Number(r[id]));
    }
    return map;
  };
  const typeRows = types.map((r) => ({ id: Number(r['id_tipo']), name: String(r['nombre']) }));
  const satellites = new Map<string, number>();
  for (const r of sats) {
    const name = String(r['name']);
    if (!satellites.has(name)) satellites.set(name, Number(r['id_server']));
  }
  return {
    groups: byName(groups, 'id_grupo', 'nombre'),
    groupIds: new Set(groups.map((r) => Number(r['id_grupo']))),
    os: os.map((r) => ({ id: Number(r['id_os']), name: String(r['name']) })),
    typesByName: new Map(typeRows.map((t) => [lookupKey(t.name), t])),
    typesById: new Map(typeRows.map((t) => [t.id, t])),
    moduleGroups: byName(moduleGroups, 'id_mg', 'name'),
    tags: byName(tags, 'id_tag', 'name'),
    customFields: byName(fields, 'id_field', 'name'),
    satellites,
  };
}

/** A Catalog over loaded data plus the agent ids a batch resolved (keyed by lookupKey). */
export function catalogOf(data: CatalogData, agentIds: ReadonlyMap<string, number>): Catalog {
  return {
    groupIdByName: (n) => data.groups.get(lookupKey(n)),
    groupExists: (id) => data.groupIds.has(id),
    osIdByName(osName) {
      const needle = osName.toLowerCase();
      return data.os.find((o) => o.name.toLowerCase().includes(needle))?.id;
    },
    moduleTypeByName: (n) => data.typesByName.get(lookupKey(n)),
    moduleTypeById: (id) => data.typesById.get(id),
    moduleGroupIdByName: (n) => data.moduleGroups.get(lookupKey(n)),
    tagIdByName: (n) => data.tags.get(lookupKey(n)),
    customFieldIdByName: (n) => data.customFields.get(lookupKey(n)),
    agentIdByName: (n) => agentIds.get(lookupKey(n)),
    satelliteIdByName: (name) => data.satellites.get(name),
  };
}
