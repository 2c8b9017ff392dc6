import {
  createApplicationMessage,
  createCommit,
  createGroup,
  createProposal,
  decodeMlsMessage,
  defaultKeyPackageEqualityConfig,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  joinGroup,
  processPrivateMessage,
  zeroOutUint8Array,
} from 'ts-mls';
import type {
  AuthenticationService,
  Capabilities,
  CiphersuiteImpl,
  ClientConfig,
  ClientState,
  Credential,
  IncomingMessageCallback,
  KeyPackage,
  KeyRetentionConfig,
  MLSMessage,
  PrivateMessage,
  Proposal,
  RatchetTree,
  Welcome,
} from 'ts-mls';
import { decodeGroupState, decodeGroupStateWithoutTree, encodeGroupState, encodeGroupStateWithoutTree } from 'ts-mls/clientState.js';
import { createGroupInfoWithRatchetTree } from 'ts-mls/createCommit.js';
import { ratchetTreeFromExtension } from 'ts-mls/groupInfo.js';
import { makeKeyPackageRef, verifyKeyPackage } from 'ts-mls/keyPackage.js';
import { verifyLeafNodeSignatureKeyPackage } from 'ts-mls/leafNode.js';
import { CodecError, CryptoError, CryptoVerificationError, MlsError, UsageError, ValidationError } from 'ts-mls/mlsError.js';
import { decryptSenderData } from 'ts-mls/privateMessage.js';
import { decodeRatchetTree, encodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { treeHashRoot } from 'ts-mls/treeHash.js';
import { bytesEqual, toBase64Url, toHex } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import { CredentialRejectedError, createDeviceAuthenticator } from '../authentication.js';
import type { DeviceAuthenticator, DeviceDirectory } from '../authentication.js';
import { ByteDecodeError, ByteReader, ByteWriter } from '../byte-codec.js';
import { IdentityError, parseCredentialIdentity, signingKeyOf } from '../identity.js';
import type { DeviceIdentity, DeviceRef } from '../identity.js';
import type {
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
} from './engine.js';
import { MlsOperationError } from './errors.js';
import type { MlsErrorCode } from './errors.js';
import { ciphersuiteId, suiteImpl } from './suite.js';

/** last_resort KeyPackage extension (MLS extensions registry). */
const LAST_RESORT_EXTENSION = 0x000a;
const DEFAULT_KEY_PACKAGE_LIFETIME = 90 * 24 * 3600;
/** Key packages are valid from a day ago, so a committer whose clock is behind still accepts them. */
const CLOCK_SKEW_ALLOWANCE = 24 * 3600;
/** The protocol's KeyPackageIn.expiresAt bound. */
const MAX_EXPIRES_AT = 2 ** 40;

/**
 * ts-mls 1.6.4 keeps EVERY old epoch when retainKeysForEpochs is 0 (it does
 * slice(-0)). 2 keeps the previous two epochs' receiver keys: enough to read
 * application messages sent just before a commit, and no more.
 */
const KEY_RETENTION: KeyRetentionConfig = {
  retainKeysForGenerations: 10,
  retainKeysForEpochs: 2,
  maximumForwardRatchetSteps: 200,
};

const ALLOWED_PROPOSALS = new Set(['add', 'remove', 'update']);

/* ---------- small helpers ---------- */

function fail(code: MlsErrorCode, message: string, cause?: unknown): never {
  throw new MlsOperationError(code, message, cause === undefined ? undefined : { cause });
}

/** Turns any failure inside ts-mls into a typed error. Our own typed errors pass through. */
function toTypedError(err: unknown, fallback: MlsErrorCode = 'invalid_message'): Error {
  if (err instanceof MlsOperationError || err instanceof CredentialRejectedError) return err;
  if (err instanceof CryptoVerificationError || err instanceof CryptoError) return new MlsOperationError('decrypt_failed', err.message, { cause: err });
  if (err instanceof CodecError) return new MlsOperationError('malformed_message', err.message, { cause: err });
  if (err instanceof UsageError) return new MlsOperationError('invalid_state', err.message, { cause: err });
  if (err instanceof ValidationError) return new MlsOperationError(fallback, err.message, { cause: err });
  if (err instanceof MlsError) return new MlsOperationError('internal', err.message, { cause: err });
  // WebCrypto reports a failed AEAD tag as a DOMException (OperationError).
  if (err instanceof Error && err.name === 'OperationError') return new MlsOperationError('decrypt_failed', 'authenticated decryption failed', { cause: err });
  return new MlsOperationError('internal', err instanceof Error ? err.message : 'unexpected failure', { cause: err });
}

function decodeMessage(bytes: Uint8Array): MLSMessage {
  let decoded: [MLSMessage, number] | undefined;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch (err) {
    fail('malformed_message', 'not an MLS message', err);
  }
  if (decoded === undefined || decoded[1] !== bytes.length) fail('malformed_message', 'not an MLS message');
  return decoded[0];
}

function decodeTree(bytes: Uint8Array): RatchetTree {
  let decoded: [RatchetTree, number] | undefined;
  try {
    decoded = decodeRatchetTree(bytes, 0);
  } catch (err) {
    fail('invalid_ratchet_tree', 'not a ratchet tree', err);
  }
  if (decoded === undefined || decoded[1] !== bytes.length) fail('invalid_ratchet_tree', 'not a ratchet tree');
  return decoded[0];
}

function encodeKeyPackageMessage(keyPackage: KeyPackage): Uint8Array {
  return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage });
}

function hasLastResort(keyPackage: KeyPackage): boolean {
  return keyPackage.extensions.some((e) => e.extensionType === LAST_RESORT_EXTENSION);
}

function expiresAtOf(keyPackage: KeyPackage): number {
  const notAfter = keyPackage.leafNode.lifetime.notAfter;
  return notAfter > BigInt(MAX_EXPIRES_AT) ? MAX_EXPIRES_AT : Number(notAfter);
}

function credentialIdentityBytes(credential: Credential): Uint8Array | undefined {
  return credential.credentialType === 'basic' ? credential.identity : undefined;
}

/**
 * Parsed credential identities, keyed by their exact bytes: the parse is a
 * pure function of them, so a hit is what a fresh parse would return (a
 * failed parse is not kept). Saves a UTF-8 decode and two schema checks per
 * leaf for every message, as the tree is read for each sender.
 */
const parsedIdentities = new Map<string, DeviceRef>();
const PARSED_IDENTITIES_MAX = 4096;

function deviceRefOf(identity: Uint8Array): DeviceRef {
  const key = toHex(identity);
  const hit = parsedIdentities.get(key);
  if (hit !== undefined) return hit;
  const ref = parseCredentialIdentity(identity);
  if (parsedIdentities.size >= PARSED_IDENTITIES_MAX) parsedIdentities.clear();
  parsedIdentities.set(key, ref);
  return ref;
}

function membersOf(tree: RatchetTree): MemberDevice[] {
  const out: MemberDevice[] = [];
  tree.forEach((node, nodeIndex) => {
    if (node?.nodeType !== 'leaf' || nodeIndex % 2 !== 0) return;
    const identity = credentialIdentityBytes(node.leaf.credential);
    if (identity === undefined) fail('internal', 'group contains a non-basic credential');
    let ref;
    try {
      ref = deviceRefOf(identity);
    } catch (err) {
      fail('internal', 'group contains a credential that is not a Parley identity', err);
    }
    out.push({ userId: ref.userId, deviceId: ref.deviceId, signaturePublicKey: node.leaf.signaturePublicKey, leafIndex: nodeIndex / 2 });
  });
  return out;
}

function memberKey(m: MemberDevice): string {
  return `${m.deviceId}/${toHex(m.signaturePublicKey)}`;
}

function diffMembers(before: readonly MemberDevice[], after: readonly MemberDevice[]): { added: MemberDevice[]; removed: MemberDevice[] } {
  const b = new Set(before.map(memberKey));
  const a = new Set(after.map(memberKey));
  return { added: after.filter((m) => !b.has(memberKey(m))), removed: before.filter((m) => !a.has(memberKey(m))) };
}

/**
 * A per-operation bridge from our DeviceAuthenticator to ts-mls's boolean
 * AuthenticationService. ts-mls only reports "Could not validate credential";
 * the collector remembers which credential failed and why, so the caller gets
 * a CredentialRejectedError instead.
 */
class AuthCollector {
  rejection: CredentialRejectedError | undefined;
  /**
   * The signature key of the first credential validated in this operation.
   * In ts-mls's joinGroup that is the GroupInfo signer's leaf (checked before
   * the rest of the tree): the device whose commit made the Welcome.
   */
  firstKey: Uint8Array | undefined;
  constructor(private readonly authenticator: DeviceAuthenticator) {}

  service(): AuthenticationService {
    return {
      validateCredential: async (credential, signaturePublicKey) => {
        this.firstKey ??= signaturePublicKey.slice();
        try {
          await this.authenticator.authenticate({ credentialType: credential.credentialType, identity: credentialIdentityBytes(credential) }, signaturePublicKey);
          return true;
        } catch (err) {
          if (!(err instanceof CredentialRejectedError)) throw err;
          this.rejection ??= err;
          return false;
        }
      },
    };
  }

  /** The error to throw for a failed operation. */
  explain(err: unknown, fallback?: MlsErrorCode): Error {
    return this.rejection ?? toTypedError(err, fallback);
  }

  /** Call after a successful operation: a rejected credential must never be ignored. */
  check(): void {
    if (this.rejection !== undefined) throw this.rejection;
  }
}

/* ---------- stored key package bundle ---------- */

const BUNDLE_MAGIC = Uint8Array.from([0x50, 0x4b, 0x50]); // "PKP"
const BUNDLE_VERSION = 1;

interface KeyPackageBundle {
  keyPackage: KeyPackage;
  initPrivateKey: Uint8Array;
  hpkePrivateKey: Uint8Array;
  lastResort: boolean;
}

function encodeBundle(keyPackageMessage: Uint8Array, initPrivateKey: Uint8Array, hpkePrivateKey: Uint8Array, lastResort: boolean): Uint8Array {
  return new ByteWriter()
    .raw(BUNDLE_MAGIC)
    .u8(BUNDLE_VERSION)
    .u8(lastResort ? 1 : 0)
    .bytes(keyPackageMessage)
    .bytes(initPrivateKey)
    .bytes(hpkePrivateKey)
    .finish();
}

function decodeBundle(bytes: Uint8Array): KeyPackageBundle {
  try {
    const r = new ByteReader(bytes);
    const magic = r.raw(BUNDLE_MAGIC.length);
    if (!bytesEqual(magic, BUNDLE_MAGIC)) throw new ByteDecodeError('not a key package bundle');
    if (r.u8() !== BUNDLE_VERSION) throw new ByteDecodeError('unsupported key package bundle version');
    const lastResort = r.u8() === 1;
    const message = decodeMessage(r.bytes(64 * 1024));
    const initPrivateKey = r.bytes(4096);
    const hpkePrivateKey = r.bytes(4096);
    r.end();
    if (message.wireformat !== 'mls_key_package') throw new ByteDecodeError('bundle holds no key package');
    return { keyPackage: message.keyPackage, initPrivateKey, hpkePrivateKey, lastResort };
  } catch (err) {
    if (err instanceof MlsOperationError) throw err;
    fail('invalid_state', 'stored key package bundle is corrupt', err);
  }
}

/* ---------- stored group state envelope ---------- */

const STATE_MAGIC = Uint8Array.from([0x50, 0x47, 0x53]); // "PGS"
const STATE_VERSION = 1;
const MAX_STATE_BYTES = 256 * 1024 * 1024;

/* ---------- the engine ---------- */

export interface TsMlsEngineOptions {
  identity: DeviceIdentity;
  /** Backs the authentication service: every credential entering a group is checked here. */
  directory: DeviceDirectory;
}

export class TsMlsEngine implements MlsEngine {
  readonly userId: UserId;
  readonly deviceId: DeviceId;
  readonly ciphersuite: number;

  private constructor(
    private readonly identity: DeviceIdentity,
    private readonly authenticator: DeviceAuthenticator,
    private readonly cs: CiphersuiteImpl,
  ) {
    this.userId = identity.userId;
    this.deviceId = identity.deviceId;
    this.ciphersuite = identity.ciphersuite;
  }

  static async create(options: TsMlsEngineOptions): Promise<TsMlsEngine> {
    const cs = await suiteImpl(options.identity.ciphersuite);
    return new TsMlsEngine(options.identity, createDeviceAuthenticator(options.directory), cs);
  }

  /* The next four members are for TsMlsGroup only (same module); they are not part of MlsEngine. */

  /** ts-mls configuration for one operation, with a fresh authentication collector. */
  configFor(auth: AuthCollector): ClientConfig {
    return {
      keyRetentionConfig: KEY_RETENTION,
      lifetimeConfig: defaultLifetimeConfig,
      keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
      paddingConfig: defaultPaddingConfig,
      authService: auth.service(),
    };
  }

  newAuth(): AuthCollector {
    return new AuthCollector(this.authenticator);
  }

  get suite(): CiphersuiteImpl {
    return this.cs;
  }

  private capabilities(): Capabilities {
    return {
      versions: ['mls10'],
      ciphersuites: [this.cs.name],
      extensions: [LAST_RESORT_EXTENSION],
      proposals: [],
      credentials: ['basic'],
    };
  }

  private async newKeyPackage(lastResort: boolean, lifetimeSeconds: number) {
    const now = Math.floor(Date.now() / 1000);
    return generateKeyPackageWithKey(
      { credentialType: 'basic', identity: this.identity.credentialIdentity },
      this.capabilities(),
      { notBefore: BigInt(now - CLOCK_SKEW_ALLOWANCE), notAfter: BigInt(now + lifetimeSeconds) },
      lastResort ? [{ extensionType: LAST_RESORT_EXTENSION, extensionData: new Uint8Array() }] : [],
      { signKey: signingKeyOf(this.identity), publicKey: this.identity.signaturePublicKey },
      this.cs,
    );
  }

  async generateKeyPackages(n: number, options: { lastResort?: boolean; lifetimeSeconds?: number } = {}): Promise<GeneratedKeyPackage[]> {
    if (!Number.isInteger(n) || n < 0 || n > 1000) throw new RangeError('n must be an integer in 0..1000');
    const lastResort = options.lastResort ?? false;
    const lifetime = options.lifetimeSeconds ?? DEFAULT_KEY_PACKAGE_LIFETIME;
    const out: GeneratedKeyPackage[] = [];
    for (let i = 0; i < n; i++) {
      const { publicPackage, privatePackage } = await this.newKeyPackage(lastResort, lifetime);
      const keyPackage = encodeKeyPackageMessage(publicPackage);
      out.push({
        ref: toHex(await makeKeyPackageRef(publicPackage, this.cs.hash)),
        keyPackage,
        ciphersuite: ciphersuiteId(this.cs.name),
        expiresAt: expiresAtOf(publicPackage),
        lastResort,
        privateBundle: encodeBundle(keyPackage, privatePackage.initPrivateKey, privatePackage.hpkePrivateKey, lastResort),
      });
    }
    return out;
  }

  /** Decodes, checks suite and signatures, and parses the credential of a key package. */
  async decodeKeyPackage(bytes: Uint8Array): Promise<{ keyPackage: KeyPackage; info: KeyPackageInfo }> {
    const message = decodeMessage(bytes);
    if (message.wireformat !== 'mls_key_package') fail('invalid_key_package', 'not a key package');
    const kp = message.keyPackage;
    if (kp.cipherSuite !== this.cs.name) fail('invalid_key_package', `key package uses ${kp.cipherSuite}`);
    let valid: boolean;
    try {
      valid = (await verifyKeyPackage(kp, this.cs.signature)) && (await verifyLeafNodeSignatureKeyPackage(kp.leafNode, this.cs.signature));
    } catch (err) {
      fail('invalid_key_package', 'key package signature check failed', err);
    }
    if (!valid) fail('invalid_key_package', 'key package signature is invalid');
    const identity = credentialIdentityBytes(kp.leafNode.credential);
    if (identity === undefined) fail('invalid_key_package', 'key package credential is not a basic credential');
    let ref;
    try {
      ref = parseCredentialIdentity(identity);
    } catch (err) {
      if (err instanceof IdentityError) fail('invalid_key_package', err.message, err);
      throw err;
    }
    return {
      keyPackage: kp,
      info: {
        ref: toHex(await makeKeyPackageRef(kp, this.cs.hash)),
        userId: ref.userId,
        deviceId: ref.deviceId,
        signaturePublicKey: kp.leafNode.signaturePublicKey,
        ciphersuite: ciphersuiteId(kp.cipherSuite),
        expiresAt: expiresAtOf(kp),
        lastResort: hasLastResort(kp),
      },
    };
  }

  async inspectKeyPackage(bytes: Uint8Array): Promise<KeyPackageInfo> {
    return (await this.decodeKeyPackage(bytes)).info;
  }

  async createGroup(groupId: Uint8Array): Promise<MlsGroup> {
    if (groupId.length < 1 || groupId.length > 64) throw new RangeError('group id must be 1..64 bytes');
    const { publicPackage, privatePackage } = await this.newKeyPackage(false, DEFAULT_KEY_PACKAGE_LIFETIME);
    const auth = this.newAuth();
    let state: ClientState;
    try {
      state = await createGroup(groupId.slice(), publicPackage, privatePackage, [], this.cs, this.configFor(auth));
    } catch (err) {
      throw auth.explain(err);
    }
    return new TsMlsGroup(this, state, undefined);
  }

  async joinFromWelcome(source: JoinSource, lookup: KeyPackageLookup): Promise<JoinResult> {
    const message = decodeMessage(source.welcome);
    if (message.wireformat !== 'mls_welcome') fail('malformed_message', 'not a Welcome');
    const welcome: Welcome = message.welcome;
    if (welcome.cipherSuite !== this.cs.name) fail('invalid_message', `Welcome uses ${welcome.cipherSuite}`);

    let bundle: KeyPackageBundle | undefined;
    let ref = '';
    for (const secret of welcome.secrets) {
      const candidate = toHex(secret.newMember);
      const stored = await lookup(candidate);
      if (stored === undefined) continue;
      const decoded = decodeBundle(stored);
      // A store shared by several identities must not hand us someone else's key package.
      if (!bytesEqual(decoded.keyPackage.leafNode.signaturePublicKey, this.identity.signaturePublicKey)) continue;
      bundle = decoded;
      ref = candidate;
      break;
    }
    if (bundle === undefined) fail('welcome_not_for_us', 'no stored key package of this device matches the Welcome');

    const tree = this.treeFromSource(source);
    const auth = this.newAuth();
    let state: ClientState;
    try {
      state = await joinGroup(
        welcome,
        bundle.keyPackage,
        { initPrivateKey: bundle.initPrivateKey, hpkePrivateKey: bundle.hpkePrivateKey, signaturePrivateKey: signingKeyOf(this.identity) },
        emptyPskIndex,
        this.cs,
        tree,
        undefined,
        this.configFor(auth),
      );
    } catch (err) {
      const typed = auth.explain(err);
      if (typed instanceof MlsOperationError && typed.code === 'invalid_message' && /tree|parent hash/i.test(typed.message)) {
        throw new MlsOperationError('invalid_ratchet_tree', typed.message, { cause: err });
      }
      throw typed;
    }
    auth.check();
    if (source.groupInfo !== undefined) {
      // The separately supplied group info must describe the group we joined.
      const gi = decodeMessage(source.groupInfo);
      if (gi.wireformat === 'mls_group_info' && !bytesEqual(gi.groupInfo.groupContext.groupId, state.groupContext.groupId)) {
        fail('invalid_ratchet_tree', 'group info is for another group');
      }
    }
    const group = new TsMlsGroup(this, state, undefined);
    const signerKey = auth.firstKey;
    const inviter = signerKey === undefined ? undefined : group.memberDevices().find((d) => bytesEqual(d.signaturePublicKey, signerKey));
    return { group, keyPackageRef: ref, lastResort: bundle.lastResort, ...(inviter === undefined ? {} : { inviter }) };
  }

  private treeFromSource(source: JoinSource): RatchetTree {
    if (source.ratchetTree !== undefined) return decodeTree(source.ratchetTree);
    if (source.groupInfo !== undefined) {
      const message = decodeMessage(source.groupInfo);
      if (message.wireformat !== 'mls_group_info') fail('invalid_ratchet_tree', 'not a GroupInfo');
      let tree: RatchetTree | undefined;
      try {
        tree = ratchetTreeFromExtension(message.groupInfo);
      } catch (err) {
        fail('invalid_ratchet_tree', 'GroupInfo ratchet tree is malformed', err);
      }
      if (tree === undefined) fail('invalid_ratchet_tree', 'GroupInfo carries no ratchet tree');
      return tree;
    }
    return fail('invalid_ratchet_tree', 'a ratchet tree or group info is required: Welcomes do not carry the tree');
  }

  async loadGroup(serialized: SerializedGroup): Promise<MlsGroup> {
    const tree = decodeTree(serialized.ratchetTree);
    let current: ClientState;
    let pending: PendingCommit | undefined;
    const auth = this.newAuth();
    const config = this.configFor(auth);
    try {
      const r = new ByteReader(serialized.secrets);
      if (!bytesEqual(r.raw(STATE_MAGIC.length), STATE_MAGIC)) throw new ByteDecodeError('not a Parley group state');
      if (r.u8() !== STATE_VERSION) throw new ByteDecodeError('unsupported group state version');
      if (r.u16() !== ciphersuiteId(this.cs.name)) throw new ByteDecodeError('group state is for another ciphersuite');
      const stateBytes = r.bytes(MAX_STATE_BYTES);
      const decoded = decodeGroupStateWithoutTree(tree)(stateBytes, 0);
      if (decoded === undefined || decoded[1] !== stateBytes.length) throw new ByteDecodeError('group state does not decode');
      current = { ...decoded[0], clientConfig: config };
      if (r.u8() === 1) {
        const pendingBytes = r.bytes(MAX_STATE_BYTES);
        const pendingState = decodeGroupState(pendingBytes, 0);
        if (pendingState === undefined || pendingState[1] !== pendingBytes.length) throw new ByteDecodeError('pending commit state does not decode');
        pending = { state: { ...pendingState[0], clientConfig: config }, commit: r.bytes(MAX_STATE_BYTES), consumed: [] };
      }
      r.end();
    } catch (err) {
      if (err instanceof MlsOperationError) throw err;
      fail('invalid_state', err instanceof Error ? err.message : 'group state does not decode', err);
    }
    // The tree is stored apart from the secrets: make sure this is the tree they belong to.
    if (!bytesEqual(await treeHashRoot(current.ratchetTree, this.cs.hash), current.groupContext.treeHash)) {
      fail('invalid_ratchet_tree', 'ratchet tree does not match the group state');
    }
    if (current.groupContext.cipherSuite !== this.cs.name) fail('invalid_state', 'group state is for another ciphersuite');
    const own = current.ratchetTree[current.privatePath.leafIndex * 2];
    if (current.groupActiveState.kind === 'active' && (own?.nodeType !== 'leaf' || !bytesEqual(own.leaf.signaturePublicKey, this.identity.signaturePublicKey))) {
      fail('invalid_state', 'group state belongs to another identity');
    }
    return new TsMlsGroup(this, current, pending);
  }
}

/* ---------- a group ---------- */

interface PendingCommit {
  state: ClientState;
  /** The commit's MLSMessage bytes: seeing them come back means the server accepted it. */
  commit: Uint8Array;
  /** Secrets ts-mls says the commit used up; zeroed only once the commit is merged. */
  consumed: Uint8Array[];
}

type SeenHandshake = Parameters<IncomingMessageCallback>[0];

function proposalAllowed(proposal: Proposal): boolean {
  return typeof proposal.proposalType === 'string' && ALLOWED_PROPOSALS.has(proposal.proposalType);
}

class TsMlsGroup implements MlsGroup {
  private queue: Promise<unknown> = Promise.resolve();
  readonly groupId: Uint8Array;
  readonly groupIdText: string;

  constructor(
    private readonly engine: TsMlsEngine,
    private state: ClientState,
    private pending: PendingCommit | undefined,
  ) {
    this.groupId = state.groupContext.groupId.slice();
    this.groupIdText = toBase64Url(this.groupId);
  }

  get epoch(): bigint {
    return this.state.groupContext.epoch;
  }

  get active(): boolean {
    return this.state.groupActiveState.kind === 'active';
  }

  get hasPendingCommit(): boolean {
    return this.pending !== undefined;
  }

  get hasPendingProposals(): boolean {
    return Object.keys(this.state.unappliedProposals).length > 0;
  }

  private get cs(): CiphersuiteImpl {
    return this.engine.suite;
  }

  private get ownLeafIndex(): number {
    return this.state.privatePath.leafIndex;
  }

  memberDevices(): MemberDevice[] {
    return membersOf(this.state.ratchetTree);
  }

  /** Runs operations on this group one at a time: each sees the state the previous one left. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private withAuth(auth: AuthCollector): ClientState {
    return { ...this.state, clientConfig: this.engine.configFor(auth) };
  }

  private requireActive(): void {
    if (!this.active) fail('not_member', 'this device is no longer a member of the group');
  }

  private requireNoPending(): void {
    if (this.pending !== undefined) fail('pending_commit', 'a commit is pending: confirm or discard it first');
  }

  addMembers(keyPackages: readonly Uint8Array[]): Promise<CommitResult> {
    if (keyPackages.length === 0) throw new RangeError('addMembers needs at least one key package');
    return this.changeMembers({ add: keyPackages });
  }

  removeMembers(deviceIds: readonly DeviceId[]): Promise<CommitResult> {
    if (deviceIds.length === 0) throw new RangeError('removeMembers needs at least one device');
    return this.changeMembers({ remove: deviceIds });
  }

  changeMembers(change: { add?: readonly Uint8Array[]; remove?: readonly DeviceId[] }): Promise<CommitResult> {
    return this.serial(async () => {
      this.requireActive();
      this.requireNoPending();
      const add = change.add ?? [];
      const remove = new Set(change.remove ?? []);
      if (add.length === 0 && remove.size === 0) throw new RangeError('changeMembers needs a device to add or remove');
      const members = this.memberDevices();
      const proposals: Proposal[] = [];
      for (const deviceId of remove) {
        const member = members.find((m) => m.deviceId === deviceId);
        if (member === undefined) fail('membership', `device ${deviceId} is not in the group`);
        if (member.leafIndex === this.ownLeafIndex) fail('membership', 'a device cannot commit its own removal; use proposeLeave');
        proposals.push({ proposalType: 'remove', remove: { removed: member.leafIndex } });
      }
      // A device id may come back with a new key in the same commit (its old leaf is removed above).
      const present = new Set(members.filter((m) => !remove.has(m.deviceId)).map((m) => m.deviceId));
      for (const bytes of add) {
        const { keyPackage, info } = await this.engine.decodeKeyPackage(bytes);
        if (present.has(info.deviceId)) fail('membership', `device ${info.deviceId} is already in the group`);
        present.add(info.deviceId);
        proposals.push({ proposalType: 'add', add: { keyPackage } });
      }
      const result = await this.commit(proposals);
      // A device removed and added back with the same key (re-added after losing its state): the diff by key
      // does not show it, but it is new in the tree and needs its Welcome.
      const readded = result.devices.filter((d) => remove.has(d.deviceId) && !result.added.some((a) => a.deviceId === d.deviceId));
      return readded.length === 0 ? result : { ...result, added: [...result.added, ...readded] };
    });
  }

  selfUpdate(): Promise<CommitResult> {
    return this.serial(async () => {
      this.requireActive();
      this.requireNoPending();
      return this.commit([]);
    });
  }

  private async commit(extraProposals: Proposal[]): Promise<CommitResult> {
    const before = this.memberDevices();
    const auth = this.engine.newAuth();
    let result;
    try {
      result = await createCommit({ state: this.withAuth(auth), cipherSuite: this.cs }, { extraProposals, ratchetTreeExtension: false });
    } catch (err) {
      throw auth.explain(err, 'invalid_state');
    }
    auth.check();
    const next = result.newState;
    let groupInfo;
    try {
      groupInfo = await createGroupInfoWithRatchetTree(next.groupContext, next.confirmationTag, next, next.ratchetTree, [], this.cs);
    } catch (err) {
      throw toTypedError(err, 'internal');
    }
    const commit = encodeMlsMessage(result.commit);
    const devices = membersOf(next.ratchetTree);
    const { added, removed } = diffMembers(before, devices);
    this.pending = { state: next, commit, consumed: result.consumed };
    return {
      commit,
      welcome: result.welcome === undefined ? undefined : encodeMlsMessage({ version: 'mls10', wireformat: 'mls_welcome', welcome: result.welcome }),
      groupInfo: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_group_info', groupInfo }),
      ratchetTree: encodeRatchetTree(next.ratchetTree),
      epoch: next.groupContext.epoch,
      devices,
      added,
      removed,
    };
  }

  confirmCommit(): Promise<void> {
    return this.serial(async () => {
      this.mergePending();
    });
  }

  /** Adopts the pending commit's state. Returns the membership change it made. */
  private mergePending(): { before: MemberDevice[]; after: MemberDevice[] } {
    const pending = this.pending;
    if (pending === undefined) fail('no_pending_commit', 'there is no pending commit');
    const before = this.memberDevices();
    const oldEpoch = this.state.groupContext.epoch;
    // The commit snapshotted this epoch's receiver keys when it was created;
    // messages processed since then advanced them. Keep the advanced ones, so
    // already-used keys stay deleted.
    const history = new Map(pending.state.historicalReceiverData);
    const old = history.get(oldEpoch);
    if (old !== undefined) history.set(oldEpoch, { ...old, secretTree: this.state.secretTree });
    this.state = { ...pending.state, historicalReceiverData: history };
    this.pending = undefined;
    pending.consumed.forEach(zeroOutUint8Array);
    return { before, after: this.memberDevices() };
  }

  discardPendingCommit(): void {
    // Nothing to zero: the consumed secrets are still the live epoch's.
    this.pending = undefined;
  }

  proposeLeave(): Promise<Uint8Array> {
    return this.serial(async () => {
      this.requireActive();
      this.requireNoPending();
      const auth = this.engine.newAuth();
      let result;
      try {
        result = await createProposal(this.withAuth(auth), false, { proposalType: 'remove', remove: { removed: this.ownLeafIndex } }, this.cs);
      } catch (err) {
        throw auth.explain(err, 'invalid_state');
      }
      this.state = result.newState;
      result.consumed.forEach(zeroOutUint8Array);
      return encodeMlsMessage(result.message);
    });
  }

  encrypt(plaintext: Uint8Array): Promise<Uint8Array> {
    return this.serial(async () => {
      this.requireActive();
      if (this.hasPendingProposals) fail('pending_proposals', 'proposals are waiting for a commit; commit them (selfUpdate) before sending');
      let result;
      try {
        result = await createApplicationMessage(this.state, plaintext, this.cs);
      } catch (err) {
        throw toTypedError(err, 'invalid_state');
      }
      this.state = result.newState;
      result.consumed.forEach(zeroOutUint8Array);
      return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage: result.privateMessage });
    });
  }

  processIncoming(bytes: Uint8Array): Promise<IncomingResult> {
    return this.serial(() => this.process(bytes));
  }

  private async process(bytes: Uint8Array): Promise<IncomingResult> {
    if (this.pending !== undefined && bytesEqual(bytes, this.pending.commit)) {
      // Our own commit, sequenced by the server: it won the epoch.
      const committer = this.memberDevices().find((m) => m.leafIndex === this.ownLeafIndex);
      const { before, after } = this.mergePending();
      return { kind: 'commit', epoch: this.epoch, own: true, committer, devices: after, ...diffMembers(before, after), discardedPendingCommit: false };
    }

    const message = decodeMessage(bytes);
    if (message.wireformat === 'mls_public_message') fail('rejected_by_policy', 'Parley groups only use encrypted handshake messages');
    if (message.wireformat !== 'mls_private_message') fail('malformed_message', `a ${message.wireformat} is not a group message`);
    const pm = message.privateMessage;
    if (!bytesEqual(pm.groupId, this.groupId)) fail('wrong_group', 'message is for another group');

    const epoch = this.state.groupContext.epoch;
    if (pm.epoch > epoch) {
      if (!this.active) fail('not_member', 'this device was removed from the group');
      fail('future_epoch', `message is for epoch ${pm.epoch}; this group is at ${epoch}`);
    }
    if (pm.epoch < epoch && pm.contentType !== 'application') fail('stale_epoch', `a ${pm.contentType} for past epoch ${pm.epoch}`);
    if (pm.contentType !== 'application' && !this.active) fail('not_member', 'this device was removed from the group');

    const sender = await this.senderOf(pm);

    // Only a handshake message changes the members; an application message needs no list before it.
    const before = pm.contentType === 'application' ? [] : this.memberDevices();
    let seen: SeenHandshake | undefined;
    let removesUs = false;
    const policy: IncomingMessageCallback = (incoming) => {
      seen = incoming;
      if (incoming.kind === 'commit') {
        if (incoming.senderLeafIndex === undefined || !incoming.proposals.every((p) => proposalAllowed(p.proposal))) return 'reject';
        // ts-mls 1.6.4 notices its own removal only when its leaf stays blank; a commit that
        // also adds a device into the freed leaf makes it try (and fail) to decrypt the path.
        // The commit is authenticated by now (signature, proposals validated): stop here instead.
        removesUs = incoming.proposals.some((p) => p.proposal.proposalType === 'remove' && p.proposal.remove.removed === this.ownLeafIndex);
        return removesUs ? 'reject' : 'accept';
      }
      return incoming.proposal.senderLeafIndex !== undefined && proposalAllowed(incoming.proposal.proposal) ? 'accept' : 'reject';
    };

    const auth = this.engine.newAuth();
    let result;
    try {
      result = await processPrivateMessage(this.withAuth(auth), pm, emptyPskIndex, this.cs, policy);
    } catch (err) {
      throw auth.explain(err);
    }
    auth.check();

    if (result.kind === 'applicationMessage') {
      this.state = result.newState;
      result.consumed.forEach(zeroOutUint8Array);
      return { kind: 'application', epoch: pm.epoch, plaintext: result.message, sender };
    }
    if (result.actionTaken === 'reject' && removesUs) {
      this.state = { ...this.state, unappliedProposals: {}, groupActiveState: { kind: 'removedFromGroup' } };
      this.pending = undefined;
      return { kind: 'removed', epoch: this.epoch, committer: sender };
    }
    if (result.actionTaken === 'reject') fail('rejected_by_policy', `a ${pm.contentType} with a proposal type or sender Parley does not allow`);
    const handshake = seen;
    if (handshake === undefined) fail('internal', 'handshake message was not reported to the policy');

    this.state = result.newState;
    result.consumed.forEach(zeroOutUint8Array);

    if (handshake.kind === 'proposal') {
      const type = handshake.proposal.proposal.proposalType;
      if (type !== 'add' && type !== 'remove' && type !== 'update') fail('internal', 'unexpected proposal type');
      return { kind: 'proposal', epoch: this.epoch, proposal: type, sender };
    }

    if (this.state.groupActiveState.kind === 'removedFromGroup') {
      this.pending = undefined;
      return { kind: 'removed', epoch: this.epoch, committer: sender };
    }
    const discardedPendingCommit = this.pending !== undefined;
    this.pending = undefined;
    const after = this.memberDevices();
    return { kind: 'commit', epoch: this.epoch, own: false, committer: sender, devices: after, ...diffMembers(before, after), discardedPendingCommit };
  }

  /**
   * Who sent a private message. ts-mls verifies the sender's signature but
   * does not report the sender of application messages, so we decrypt the
   * sender data (RFC 9420 §6.3.2) with the same epoch's key and read the leaf.
   */
  private async senderOf(pm: PrivateMessage): Promise<MemberDevice> {
    const current = pm.epoch === this.state.groupContext.epoch;
    const historical = current ? undefined : this.state.historicalReceiverData.get(pm.epoch);
    if (!current && historical === undefined) fail('epoch_expired', `keys for epoch ${pm.epoch} are no longer kept`);
    const senderDataSecret = historical?.senderDataSecret ?? this.state.keySchedule.senderDataSecret;
    const tree = historical?.ratchetTree ?? this.state.ratchetTree;
    let senderData;
    try {
      senderData = await decryptSenderData(pm, senderDataSecret, this.cs);
    } catch (err) {
      fail('decrypt_failed', 'sender data does not decrypt', err);
    }
    if (senderData === undefined) fail('decrypt_failed', 'sender data does not decode');
    if (senderData.leafIndex === this.ownLeafIndex) fail('own_message', 'this device sent the message');
    const member = membersOf(tree).find((m) => m.leafIndex === senderData.leafIndex);
    if (member === undefined) fail('invalid_message', 'sender is not a member');
    return member;
  }

  serialize(): SerializedGroup {
    const w = new ByteWriter()
      .raw(STATE_MAGIC)
      .u8(STATE_VERSION)
      .u16(ciphersuiteId(this.cs.name))
      .bytes(encodeGroupStateWithoutTree(this.state));
    if (this.pending === undefined) w.u8(0);
    else w.u8(1).bytes(encodeGroupState(this.pending.state)).bytes(this.pending.commit);
    return { secrets: w.finish(), ratchetTree: encodeRatchetTree(this.state.ratchetTree) };
  }
}
