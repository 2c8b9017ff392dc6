/**
 * Node-only adapters for @parley/client: the SQLite store, and the WebSocket
 * adapter under the name older callers pass (it is the standard adapter over
 * Node's global WebSocket). A browser build never imports this entry point.
 */
export { SqliteStore } from './store/sqlite-store.js';
export { nodeSocketFactory } from './transport/node-websocket.js';
