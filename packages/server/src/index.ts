export { startServer, WS_PATH, type ParleyServer } from './server.js';
export { createAppContext, type AppContext, type AppContextOverrides } from './context.js';
export { configFromEnv, defaultConfig, ConfigError, SERVER_VERSION, type ServerConfig } from './config.js';
export { readVapidKeys, VAPID_FILE } from './push/vapid.js';
export { createLogger } from './logger.js';
export { runMaintenance } from './maintenance.js';
export * as accounts from './services/accounts.js';
export * as devices from './services/devices.js';
export type { Storage } from './storage/storage.js';
export { StorageError } from './storage/storage.js';
export { SqliteStorage } from './storage/sqlite/sqlite-storage.js';
export {
  BackupError,
  inspectSqliteBackup,
  parseBackupManifest,
  snapshotSqlite,
  sqliteInUse,
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  SQLITE_SCHEMA_VERSION,
  type BackupErrorCode,
  type BackupManifest,
  type SqliteBackupContents,
  advanceSqliteSequences,
  RESTORE_SEQ_GAP,
} from './storage/sqlite/backup.js';
export { FsBlobStore } from './blobs/fs/fs-blob-store.js';
export { BlobDigestMismatchError } from './blobs/blob-store.js';
export type { Bus } from './bus/bus.js';
export { MemoryBus } from './bus/memory/memory-bus.js';
export { hashPassword, newId, newToken, tokenHash } from './auth/credentials.js';
