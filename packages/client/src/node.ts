/**
 * Node-only adapters for @parley/client: the SQLite store and the `ws`
 * WebSocket. A browser build never imports this entry point.
 */
export { SqliteStore } from './store/sqlite-store.js';
export { nodeSocketFactory } from './transport/node-websocket.js';
