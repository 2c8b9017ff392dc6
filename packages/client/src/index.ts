/**
 * @parley/client — the headless Parley client SDK. Runs in browsers and Node:
 * this entry point imports no Node built-ins. The Node-only SQLite store is in
 * `@parley/client/node`; both use the runtime's global WebSocket.
 */
export { createClient, ParleyClient } from './client.js';
export type { ClientOptions } from './options.js';
export { ClientError } from './errors.js';
export type { ClientErrorCode } from './errors.js';
export type { BlocksApi, ContactsApi, RequestsApi } from './people/people.js';
export { CONTACT_CODE_PREFIX, parseContactCode } from './people/contacts.js';
export { MAX_NICKNAME_LENGTH } from './people/people-entries.js';
export type {
  AttachmentInput,
  BlockedUser,
  Contact,
  ClientEventError,
  ClientEventErrorCode,
  ClientEvents,
  ConnectionEvent,
  Conversation,
  ConversationKind,
  ConversationMember,
  ConversationPrefs,
  ConversationSummary,
  DeletedContent,
  DeviceSummary,
  ExpiredEvent,
  HistoryEvent,
  LogoutOptions,
  MediaSettings,
  MediaUsage,
  MembershipEvent,
  Message,
  MessagesOptions,
  MessageStatus,
  MessageTarget,
  MessageUser,
  Notice,
  NoticeContent,
  ReactionSummary,
  ReceiptSummary,
  ReplyPreview,
  SendOptions,
  TypingEvent,
  UserRef,
  Verification,
  VoiceInput,
} from './types.js';
export type { DeviceLink } from './devices/device-link.js';
export type { PendingDevice } from './devices/link-approval.js';
export type { ApproveLinkOptions } from './devices/link-approval.js';
export type { HistoryScope } from './history/archive-writer.js';
export type { DeviceId, GroupId, UserId } from '@parley/protocol';
export type { ConversationStatus } from './store/records.js';
export type { Profiles } from './profiles/profiles.js';
export type { Profile, ProfileInput, ProfilePictureMimeType } from './profiles/profile-types.js';
export type { PushApi, PushSubscriptionInput } from './push/push.js';
export type { MatchRange, SearchApi, SearchOptions, SearchResult } from './search/search.js';
export { MAX_ABOUT_LENGTH, MAX_DISPLAY_NAME_LENGTH, MAX_PICTURE_BYTES } from '@parley/crypto';
export { MemoryStore } from './store/memory-store.js';
export { IndexedDbStore } from './store/indexeddb-store.js';
export type { IndexedDbStoreOptions } from './store/indexeddb-store.js';
export { STORE_TABLES, StoreError } from './store/store.js';
export type { Store, StoreEntry, StoreErrorCode, StoreListOptions, StoreTable, StoreWrite } from './store/store.js';
export { globalWebSocket, standardSocketFactory } from './transport/socket.js';
export type { WireSocket, WireSocketFactory, WireSocketHandlers } from './transport/socket.js';
export type { ConnectionState } from './transport/connection.js';
export { META_TYPE } from './meta.js';
export type { MomentsApi } from './moments/moments.js';
export type {
  MomentAudience,
  MomentCommentView,
  MomentEvent,
  MomentLike,
  MomentList,
  MomentNotice,
  MomentPage,
  MomentPerson,
  MomentPhoto,
  MomentPhotoInput,
  MomentPhotoMime,
  MomentPost,
  MomentPostInput,
  MomentThumbnailMime,
  MomentWindow,
} from './moments/moment-types.js';
export { MAX_MOMENT_LIST_MEMBERS, MAX_MOMENT_LIST_NAME_LENGTH, MAX_MOMENT_LISTS } from './moments/moment-types.js';
export {
  MAX_MOMENT_COMMENT_LENGTH,
  MAX_MOMENT_LOCATION_LENGTH,
  MAX_MOMENT_PHOTO_BYTES,
  MAX_MOMENT_PHOTOS,
  MAX_MOMENT_TEXT_LENGTH,
  MAX_MOMENT_THUMBNAIL_BYTES,
  MOMENT_WINDOWS,
} from '@parley/crypto';
