/**
 * @parley/crypto — the only Parley package that performs cryptography.
 * Runs unchanged in Node 20 and in browsers (WebCrypto, Uint8Array; no Node
 * built-ins). See README.md for what it must never do.
 */

export {
  createDeviceIdentity,
  encodeCredentialIdentity,
  exportDeviceIdentity,
  generateDeviceKey,
  IdentityError,
  importDeviceIdentity,
  parseCredentialIdentity,
  signWithDevice,
  verifyDeviceSignature,
} from './identity.js';
export type { DeviceIdentity, DeviceKey, DeviceRef, IdentityErrorCode } from './identity.js';

export { createDeviceAuthenticator, CredentialRejectedError } from './authentication.js';
export type {
  AuthenticatedDevice,
  CredentialInput,
  CredentialRejectionReason,
  DeviceAuthenticator,
  DeviceDirectory,
} from './authentication.js';

export { newGroupId, TsMlsEngine } from './mls/engine.js';
export type {
  CommitResult,
  GeneratedKeyPackage,
  IncomingResult,
  JoinResult,
  JoinSource,
  KeyPackageInfo,
  KeyPackageLookup,
  MemberDevice,
  MlsEngine,
  MlsGroup,
  SerializedGroup,
  TsMlsEngineOptions,
} from './mls/engine.js';
export { MlsOperationError } from './mls/errors.js';
export type { MlsErrorCode } from './mls/errors.js';
export { DEFAULT_CIPHERSUITE, isSupportedCiphersuite, MLS_CIPHERSUITES } from './mls/suite.js';
export type { MlsCiphersuiteId, MlsCiphersuiteName } from './mls/suite.js';

export {
  ATTACHMENT_KEY_BYTES,
  ATTACHMENT_NONCE_BYTES,
  AttachmentError,
  blobDigest,
  decryptAttachment,
  encryptAttachment,
} from './attachments.js';
export type { AttachmentErrorCode, AttachmentSecrets, EncryptedAttachment } from './attachments.js';

export {
  ACCOUNT_KEY_BYTES,
  ACCOUNT_KEY_ID_BYTES,
  accountKeyId,
  AccountKeyError,
  generateAccountKey,
  openDeviceName,
  openWithAccountKey,
  SEALED_DEVICE_NAME_BYTES,
  sealDeviceName,
  sealedKeyId,
  sealWithAccountKey,
} from './account-key.js';
export type { AccountKeyErrorCode, AccountSealPurpose } from './account-key.js';

export { SAFETY_NUMBER_VERSION, safetyNumber, SafetyNumberError } from './safety-number.js';
export type { SafetyNumberParty } from './safety-number.js';

export {
  AttachmentContentSchema,
  CONTENT_TYPES,
  CONTENT_VERSION,
  ContentError,
  decodeContent,
  encodeContent,
  MAX_CONTENT_BYTES,
  MessageContentSchema,
  newContentId,
  SUPPORTED_CONTENT_TYPES,
  TextContentSchema,
  VoiceContentSchema,
  HISTORY_CONTENT_TYPES,
  isHistoryContent,
  MAX_VOICE_BYTES,
  MAX_VOICE_DURATION_MS,
  MAX_WAVEFORM_SAMPLES,
  MAX_TEXT_LENGTH,
  MAX_EMOJI_LENGTH,
  EDIT_WINDOW_MS,
  DELETE_WINDOW_MS,
  DISAPPEAR_TIMERS_MS,
  EmojiSchema,
  MessageRefSchema,
  ProfileKeyContentSchema,
} from './content.js';
export type {
  AttachmentContent,
  ContentDecodeResult,
  ContentErrorCode,
  ContentTypeName,
  DeleteContent,
  EditContent,
  HistoryContent,
  MessageContent,
  MessageRef,
  ProfileKeyContent,
  ReactionContent,
  ReceiptContent,
  SettingsContent,
  TextContent,
  TypingContent,
  VoiceContent,
} from './content.js';

export {
  decryptMomentBody,
  encryptMomentBody,
  MAX_MOMENT_BODY_BYTES,
  MAX_MOMENT_COMMENT_LENGTH,
  MAX_MOMENT_LOCATION_LENGTH,
  MAX_MOMENT_PHOTO_BYTES,
  MAX_MOMENT_PHOTOS,
  MAX_MOMENT_TEXT_LENGTH,
  MAX_MOMENT_THUMBNAIL_BYTES,
  MOMENT_CONTENT_TYPES,
  MOMENT_WINDOWS,
  MomentBodySchema,
  MomentError,
  momentPostId,
  momentWindowMs,
  openMomentComment,
  sealMomentComment,
} from './moments.js';
export type {
  MomentBody,
  MomentBodyPhoto,
  MomentComment,
  MomentCommentContent,
  MomentCommentDeleteContent,
  MomentContent,
  MomentDeleteContent,
  MomentErrorCode,
  MomentHelloContent,
  MomentPostContent,
  MomentWindow,
} from './moments.js';

export {
  decryptProfile,
  encryptProfile,
  generateProfileKey,
  MAX_ABOUT_LENGTH,
  MAX_DISPLAY_NAME_LENGTH,
  MAX_PICTURE_BYTES,
  normalizeProfileText,
  PROFILE_CIPHERTEXT_BYTES,
  PROFILE_KEY_BYTES,
  PROFILE_PICTURE_TYPES,
  ProfileError,
  profileTextProblem,
  profileVersion,
} from './profile.js';
export type { ProfileData, ProfileErrorCode, ProfilePicture, ProfilePictureType } from './profile.js';
