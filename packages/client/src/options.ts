import type { Store } from './store/store.js';
import type { WireSocketFactory } from './transport/socket.js';

/** What createClient is given: the only configuration of a client. */
export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  serverUrl: string;
  /** Where this device keeps its keys, MLS state and history. */
  store: Store;
  /**
   * This device's name in the user's device list (1-64 characters; default
   * "Parley client"). Kept in the store with the account; the server gets it
   * only encrypted under the account key, which only the user's devices hold.
   */
  deviceName?: string;
  /** WebSocket adapter; default: the runtime's global WebSocket (browsers, Node 22 and newer). */
  webSocket?: WireSocketFactory;
  /** How often to look for this user's new or revoked devices (ms); 0 = only on connect and on membership changes. */
  deviceSyncIntervalMs?: number;
  /** Single-use key packages to keep on the server. */
  keyPackageStock?: number;
  reconnect?: { initialMs: number; maxMs: number };
  /**
   * How long `send` waits for the connection when it is not connected
   * before failing with ClientError('disconnected') (detail.delivery
   * 'not_sent'). Default 3000 ms.
   */
  offlineSendTimeoutMs?: number;
  /**
   * How long a received message's acknowledgement waits for a reply to ride
   * on before it is sent as its own frame (ms). Default 50.
   */
  ackDelayMs?: number;
  /**
   * How long a receipt waits to cover more messages (ms): per conversation at
   * most one receipt per this interval; the last change is always sent.
   * Default 1000; 0 sends one per message (for measurements).
   */
  receiptDelayMs?: number;
  /** How often a device waiting for link approval asks whether it was approved (ms). Default 1500. */
  linkPollMs?: number;
  /**
   * This device's clock in ms (default Date.now): when disappearing messages
   * are due, and when conversation preferences were set. Tests pass their own.
   */
  now?: () => number;
  /**
   * The most bytes of one part of a history archive sent to a newly linked
   * device (each part is one blob; default 24 MiB, under the server's blob
   * limit). Tests pass a small one to exercise archives of several parts.
   */
  historyPartBytes?: number;
}
