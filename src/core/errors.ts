/**
 * One catalogue of error codes (after fastify's FST_ERR_* and undici's UND_ERR_*). Code
 * branches on `err.code`, never on `instanceof`: codes survive worker-thread boundaries.
 */
export const ErrorCode = {
  ConfigInvalid: 'ERR_CONFIG_INVALID',
  ConfigFileUnreadable: 'ERR_CONFIG_FILE_UNREADABLE',
  TentacleLineTooLong: 'ERR_TENTACLE_LINE_TOO_LONG',
  TentacleUnknownCommand: 'ERR_TENTACLE_UNKNOWN_COMMAND',
  TentacleAuthFailed: 'ERR_TENTACLE_AUTH_FAILED',
  TentacleTimeout: 'ERR_TENTACLE_TIMEOUT',
  TentacleTransferDeadline: 'ERR_TENTACLE_TRANSFER_DEADLINE',
  TentacleStorage: 'ERR_TENTACLE_STORAGE',
  TentacleRejected: 'ERR_TENTACLE_REJECTED',
  TentacleProtocol: 'ERR_TENTACLE_PROTOCOL',
  TentacleConnect: 'ERR_TENTACLE_CONNECT',
  TentacleClosed: 'ERR_TENTACLE_CLOSED',
  TentacleAborted: 'ERR_TENTACLE_ABORTED',
  TentacleProxyHeader: 'ERR_TENTACLE_PROXY_HEADER',
  ZipInvalid: 'ERR_ZIP_INVALID',
  ZipTooLarge: 'ERR_ZIP_TOO_LARGE',
  XmlInvalid: 'ERR_XML_INVALID',
  XmlTooLarge: 'ERR_XML_TOO_LARGE',
  XmlDoctype: 'ERR_XML_DOCTYPE',
  XmlTruncated: 'ERR_XML_TRUNCATED',
  XmlTooDeep: 'ERR_XML_TOO_DEEP',
  /** Over max_modules_per_packet, max_datalist_values or max_xml_elements. */
  XmlLimit: 'ERR_XML_LIMIT',
  XmlEncoding: 'ERR_XML_ENCODING',
  XmlNoAgentName: 'ERR_XML_NO_AGENT_NAME',
  XmlUnsupported: 'ERR_XML_UNSUPPORTED',
  XmlValueTooLong: 'ERR_XML_VALUE_TOO_LONG',
  DbUnavailable: 'ERR_DB_UNAVAILABLE',
  HaFenced: 'ERR_HA_FENCED',
  HaDuplicateName: 'ERR_HA_DUPLICATE_NAME',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class PandoraError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A bad setting: fails at startup and names where it came from (file:line, flag or env). */
export class ConfigError extends PandoraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.ConfigInvalid, message, options);
  }
}

/** Narrows an unknown thrown value to something with a message and an optional code. */
export function describeError(err: unknown): { code?: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { code, message: err.message } : { message: err.message };
  }
  return { message: String(err) };
}
