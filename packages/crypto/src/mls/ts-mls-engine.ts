import { createGroup, defaultKeyPackageEqualityConfig, defaultLifetimeConfig, defaultPaddingConfig, emptyPskIndex, generateKeyPackageWithKey, joinGroup } from 'ts-mls';
import type { Capabilities, CiphersuiteImpl, ClientConfig, ClientState, KeyPackage, RatchetTree, Welcome } from 'ts-mls';
import { decodeGroupState, decodeGroupStateWithoutTree } from 'ts-mls/clientState.js';
import { ratchetTreeFromExtension } from 'ts-mls/groupInfo.js';
import { makeKeyPackageRef, verifyKeyPackage } from 'ts-mls/keyPackage.js';
import { verifyLeafNodeSignatureKeyPackage } from 'ts-mls/leafNode.js';
import { treeHashRoot } from 'ts-mls/treeHash.js';
import { bytesEqual, toHex } from '@parley/protocol';
import type { DeviceId, UserId } from '@parley/protocol';
import { createDeviceAuthenticator } from '../authentication.js';
import type { DeviceAuthenticator, DeviceDirectory } from '../authentication.js';
import { ByteDecodeError, ByteReader } from '../byte-codec.js';
import { IdentityError, parseCredentialIdentity, signingKeyOf } from '../identity.js';
import type { DeviceIdentity } from '../identity.js';
import type { GeneratedKeyPackage, JoinResult, JoinSource, KeyPackageInfo, KeyPackageLookup, MlsEngine, MlsGroup, SerializedGroup } from './engine.js';
import { MlsOperationError } from './errors.js';
import { ciphersuiteId, suiteImpl } from './suite.js';
import { TsMlsGroup } from './ts-mls-group.js';
import type { PendingCommit } from './ts-mls-group.js';
import { LAST_RESORT_EXTENSION, DEFAULT_KEY_PACKAGE_LIFETIME, CLOCK_SKEW_ALLOWANCE, KEY_RETENTION, fail, decodeMessage, decodeTree, encodeKeyPackageMessage, hasLastResort, expiresAtOf, credentialIdentityBytes, AuthCollector, encodeBundle, decodeBundle, STATE_MAGIC, STATE_VERSION, MAX_STATE_BYTES } from './ts-mls-support.js';
import type { KeyPackageBundle } from './ts-mls-support.js';

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
