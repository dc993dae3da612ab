export { createHttpServer } from './server.js';
export { drainAuthFor, isLoopbackAddress, type DrainAuth } from './drain-auth.js';
export type { HttpServer, HttpServerConfig } from './server.js';
export type { HttpStateSource, PeerView, Readiness, StatusView } from './types.js';
