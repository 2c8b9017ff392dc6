import type { DeviceId, UserId } from '@parley/protocol';

/**
 * Parley's view of MLS (RFC 9420). Everything above this package talks to
 * these interfaces; only the files in src/mls/ know which library implements
 * them (today ts-mls 1.x, see ts-mls-engine.ts), so that swapping or
 * upgrading it touches nothing else.
 *
 * All byte arrays named commit, message, welcome, groupInfo and keyPackage
 * are MLSMessage wire bytes (RFC 9420 §6): the server can read the group id
 * and epoch of commits and messages with readMlsFraming from
 * @parley/protocol, and nothing else.
 *
 * An MlsEngine belongs to one device (one identity). It makes key packages
 * and produces MlsGroup handles; an MlsGroup holds the state of one group and
 * serialises all operations on it, so concurrent calls cannot interleave.
 */

/** A member leaf of a group, as its (authenticated) credential names it. */
export interface MemberDevice {
  readonly userId: UserId;
  readonly deviceId: DeviceId;
  readonly signaturePublicKey: Uint8Array;
  readonly leafIndex: number;
}

export interface GeneratedKeyPackage {
  /** Hex KeyPackageRef (RFC 9420 §5.2); a Welcome names the key package it was made for by this. */
  readonly ref: string;
  /** MLSMessage(key_package) bytes: upload these. */
  readonly keyPackage: Uint8Array;
  readonly ciphersuite: number;
  /** Unix seconds: end of the key package's lifetime. */
  readonly expiresAt: number;
  readonly lastResort: boolean;
  /**
   * The key package's private keys, for the local store ONLY (keyed by ref),
   * until a Welcome consumes it. Never upload. Delete after use unless lastResort.
   */
  readonly privateBundle: Uint8Array;
}

export interface KeyPackageInfo {
  readonly ref: string;
  readonly userId: UserId;
  readonly deviceId: DeviceId;
  readonly signaturePublicKey: Uint8Array;
  readonly ciphersuite: number;
  readonly expiresAt: number;
  readonly lastResort: boolean;
}

/** What a commit produces, ready for the server's commit frame. */
export interface CommitResult {
  /** MLSMessage(private_message, commit) for the group. */
  readonly commit: Uint8Array;
  /** MLSMessage(welcome) for the added devices; absent when nobody was added. Carries no ratchet tree. */
  readonly welcome: Uint8Array | undefined;
  /** MLSMessage(group_info) of the new epoch, signed, with the ratchet_tree extension: the server serves it to joiners. */
  readonly groupInfo: Uint8Array;
  /** The new epoch's ratchet tree alone (TLS-encoded), for callers that store it apart from groupInfo. */
  readonly ratchetTree: Uint8Array;
  /** The epoch the commit creates (current epoch + 1). */
  readonly epoch: bigint;
  /** Member devices after the commit: the fan-out list the server needs. */
  readonly devices: readonly MemberDevice[];
  readonly added: readonly MemberDevice[];
  readonly removed: readonly MemberDevice[];
}

export type IncomingResult =
  | {
      readonly kind: 'application';
      readonly epoch: bigint;
      readonly plaintext: Uint8Array;
      readonly sender: MemberDevice;
    }
  | {
      readonly kind: 'commit';
      /** The epoch after applying the commit. */
      readonly epoch: bigint;
      /** True when this was our own pending commit coming back (it is now merged). */
      readonly own: boolean;
      readonly committer: MemberDevice | undefined;
      readonly devices: readonly MemberDevice[];
      readonly added: readonly MemberDevice[];
      readonly removed: readonly MemberDevice[];
      /** True when we had a pending commit for the same epoch and lost the race: it was dropped; redo the operation. */
      readonly discardedPendingCommit: boolean;
    }
  | {
      /** A commit removed this device. The group is now read-only history. */
      readonly kind: 'removed';
      readonly epoch: bigint;
      readonly committer: MemberDevice | undefined;
    }
  | {
      /** A proposal was stored; the next commit by anyone will include it. */
      readonly kind: 'proposal';
      readonly epoch: bigint;
      readonly proposal: 'add' | 'remove' | 'update';
      readonly sender: MemberDevice;
    };

/** Group state split for storage: the ratchet tree (public, large) apart from the secrets (private, small). */
export interface SerializedGroup {
  /** Private: key schedule, secret trees, private path keys, pending commit. Local store only. */
  readonly secrets: Uint8Array;
  /** Public ratchet tree of the current epoch (TLS-encoded). */
  readonly ratchetTree: Uint8Array;
}

export interface JoinSource {
  /** The Welcome's MLSMessage bytes. */
  readonly welcome: Uint8Array;
  /**
   * The group's ratchet tree, given separately from the Welcome: either the
   * MLSMessage(group_info) with the ratchet_tree extension that the committer
   * uploaded, or the bare TLS-encoded tree. It is checked against the tree
   * hash inside the Welcome, so the server cannot substitute another tree.
   */
  readonly groupInfo?: Uint8Array;
  readonly ratchetTree?: Uint8Array;
}

/** Looks up a stored key package's privateBundle by its ref (hex). */
export type KeyPackageLookup = (ref: string) => Uint8Array | undefined | Promise<Uint8Array | undefined>;

export interface JoinResult {
  readonly group: MlsGroup;
  /** The key package the Welcome consumed: delete its privateBundle unless lastResort. */
  readonly keyPackageRef: string;
  readonly lastResort: boolean;
  /**
   * The member device that signed the Welcome's GroupInfo: the committer who
   * added this device (the inviter). Absent if it cannot be told.
   */
  readonly inviter?: MemberDevice;
}

export interface MlsEngine {
  readonly userId: UserId;
  readonly deviceId: DeviceId;
  readonly ciphersuite: number;

  /** n fresh key packages; with lastResort they carry the last_resort extension (0x000a, MLS extensions registry). */
  generateKeyPackages(n: number, options?: { lastResort?: boolean; lifetimeSeconds?: number }): Promise<GeneratedKeyPackage[]>;
  /** Decodes and verifies a key package (signature, suite, credential format). Does not consult the directory. */
  inspectKeyPackage(keyPackage: Uint8Array): Promise<KeyPackageInfo>;
  /** A new group with this device as its only member, at epoch 0. */
  createGroup(groupId: Uint8Array): Promise<MlsGroup>;
  joinFromWelcome(source: JoinSource, lookup: KeyPackageLookup): Promise<JoinResult>;
  /** Restores a group from serialise(). */
  loadGroup(serialized: SerializedGroup): Promise<MlsGroup>;
}

export interface MlsGroup {
  readonly groupId: Uint8Array;
  /** base64url of groupId, as in the protocol's GroupId. */
  readonly groupIdText: string;
  /** The current (merged) epoch. */
  readonly epoch: bigint;
  /** False once a commit removed this device. */
  readonly active: boolean;
  readonly hasPendingCommit: boolean;
  /** Received proposals waiting for a commit; encrypt() refuses to send until one is made (selfUpdate does). */
  readonly hasPendingProposals: boolean;

  memberDevices(): MemberDevice[];

  /**
   * Each commit operation leaves its result PENDING: send it, then call
   * confirmCommit() once the server accepted it, or discardPendingCommit() if
   * another commit won the epoch (processing the winner discards it too).
   */
  addMembers(keyPackages: readonly Uint8Array[]): Promise<CommitResult>;
  removeMembers(deviceIds: readonly DeviceId[]): Promise<CommitResult>;
  /** Removes and adds in ONE commit (e.g. a user who started over: old devices out, new ones in, one change seen by everyone). */
  changeMembers(change: { add?: readonly Uint8Array[]; remove?: readonly DeviceId[] }): Promise<CommitResult>;
  /** An empty commit with a fresh path: rotates this device's keys and commits any pending proposals. */
  selfUpdate(): Promise<CommitResult>;
  confirmCommit(): Promise<void>;
  discardPendingCommit(): void;

  /** A proposal to remove this device, for another member to commit. Returns MLSMessage(private_message, proposal). */
  proposeLeave(): Promise<Uint8Array>;

  /** Encrypts an application message; returns MLSMessage(private_message, application). */
  encrypt(plaintext: Uint8Array): Promise<Uint8Array>;
  /** Processes a message from the group. Throws MlsOperationError / CredentialRejectedError; state is unchanged on error. */
  processIncoming(message: Uint8Array): Promise<IncomingResult>;

  serialize(): SerializedGroup;
}

/** A fresh random group id (16 bytes), as createGroup expects. */
export function newGroupId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

// The implementation lives in its own file; it is re-exported here so that
// "the engine" is one import. ts-mls-engine.ts only imports types from this
// file, so there is no runtime cycle.
export { TsMlsEngine } from './ts-mls-engine.js';
export type { TsMlsEngineOptions } from './ts-mls-engine.js';
