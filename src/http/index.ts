export { createHttpServer } from './server.js';
export type { HttpServer, HttpServerConfig } from './server.js';
export type { HttpStateSource, PeerView, Readiness, StatusView } from './types.js';
