/**
 * Renders one agent data file (spec dataserver.md §1): the `<agent_data>` root with its
 * attributes, then one `<module>` per value with CDATA text, encoded as the agent would send it
 * — UTF-8 for Unix agents, real ISO-8859-1 bytes for Windows agents.
 */
import type { ModuleSpec } from './modules.js';

export type AgentStyle = 'unix' | 'windows';

export interface AgentDocument {
  readonly style: AgentStyle;
  readonly agentName: string;
  readonly timestamp: string;
  readonly intervalSec: number;
  readonly osName: string;
  readonly osVersion: string;
  readonly agentVersion: string;
  readonly group: string;
  readonly modules: readonly ModuleSpec[];
  readonly values: readonly string[];
}

/** The XML declaration each agent family writes (quotes as the real agents write them). */
export const XML_DECLARATION: Readonly<Record<AgentStyle, string>> = {
  unix: "<?xml version='1.0' encoding='UTF-8'?>",
  windows: '<?xml version="1.0" encoding="ISO-8859-1"?>',
};

export const ENCODING_OF_STYLE: Readonly<Record<AgentStyle, BufferEncoding>> = {
  unix: 'utf8',
  windows: 'latin1',
};

export function renderAgentXml(doc: AgentDocument): string {
  const attrs: [string, string | number][] = [
    ['os_name', doc.osName],
    ['os_version', doc.osVersion],
    ['interval', doc.intervalSec],
    ['version', doc.agentVersion],
    ['timestamp', doc.timestamp],
    ['agent_name', doc.agentName],
    ['agent_alias', doc.agentName],
    ['group', doc.group],
    ['timezone_offset', 0],
    ['agent_mode', 1],
  ];
  const parts: string[] = [
    XML_DECLARATION[doc.style],
    `<agent_data ${attrs.map(([k, v]) => `${k}='${escapeAttribute(String(v))}'`).join(' ')}>`,
  ];
  doc.modules.forEach((module, i) => {
    const isWindows = doc.style === 'windows';
    const name = isWindows ? module.latin1Name : module.name;
    const description = isWindows
      ? (module.latin1Description ?? module.description)
      : module.description;
    parts.push(
      '<module>',
      `<name>${cdata(name)}</name>`,
      `<description>${cdata(description)}</description>`,
      `<type>${module.type}</type>`,
      '<module_interval>1</module_interval>',
    );
    if (module.minWarning !== undefined)
      parts.push(`<min_warning>${module.minWarning}</min_warning>`);
    if (module.minCritical !== undefined) {
      parts.push(`<min_critical>${module.minCritical}</min_critical>`);
    }
    if (module.unit !== undefined) parts.push(`<unit>${cdata(module.unit)}</unit>`);
    parts.push(`<data>${cdata(doc.values[i] ?? '')}</data>`, '</module>');
  });
  parts.push('</agent_data>', '');
  return parts.join('\n');
}

export function encodeAgentXml(doc: AgentDocument): Buffer {
  const text = renderAgentXml(doc);
  if (doc.style === 'windows' && /[\u{100}-\u{10ffff}]/u.test(text)) {
    throw new RangeError(`agent ${doc.agentName}: text outside ISO-8859-1`);
  }
  return Buffer.from(text, ENCODING_OF_STYLE[doc.style]);
}

/** CDATA section; a literal `]]>` is split across two sections, as the agents do. */
export function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

export function escapeAttribute(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}
