import { z } from 'zod';
import {
  AuthResponseSchema,
  BlobDigestSchema,
  BlobUploadResponseSchema,
  ClaimKeyPackagesRequestSchema,
  ClaimKeyPackagesResponseSchema,
  CreateGroupRequestSchema,
  DeviceIdSchema,
  DeviceListResponseSchema,
  GroupIdSchema,
  GroupInfoResponseSchema,
  GroupListResponseSchema,
  HealthResponseSchema,
  KeyPackageStockSchema,
  KeyPackageUploadSchema,
  LoginRequestSchema,
  PROTOCOL_VERSIONS,
  ParleyError,
  RegisterRequestSchema,
  UserDevicesResponseSchema,
} from '@parley/protocol';
import * as accounts from '../services/accounts.js';
import * as blobs from '../services/blobs.js';
import * as delivery from '../services/delivery.js';
import * as keyPackages from '../services/key-packages.js';
import { route, type Caller, type Route } from './pipeline.js';

function me(caller: Caller | undefined): Caller {
  if (!caller) throw new ParleyError('unauthenticated', 'a bearer token is required');
  return caller;
}

/** The HTTP API. WebSocket frames (send, commit, ack) are in ../ws. */
export const ROUTES: Route<unknown, unknown>[] = [
  route({
    method: 'GET',
    path: '/health',
    auth: false,
    rate: 'public',
    response: HealthResponseSchema,
    // Load balancers take a node out of rotation on 503 while its storage or bus is down.
    statusOf: (r) => ((r as { status?: string }).status === 'ok' ? 200 : 503),
    async handler({ ctx }) {
      const [storage, bus] = await Promise.all([ctx.storage.health(), ctx.bus.health()]);
      return {
        status: storage.ok && bus ? 'ok' : 'degraded',
        version: ctx.config.version,
        protocol: [...PROTOCOL_VERSIONS],
        storage,
        bus: { kind: ctx.bus.kind, ok: bus },
      };
    },
  }),
  route({
    method: 'POST',
    path: '/v1/accounts',
    auth: false,
    rate: 'auth',
    body: RegisterRequestSchema,
    rateSubject: (b) => b.username.normalize('NFKC').toLowerCase(),
    response: AuthResponseSchema,
    status: 201,
    handler: ({ ctx, body }) => accounts.register(ctx, body),
  }),
  route({
    method: 'POST',
    path: '/v1/sessions',
    auth: false,
    rate: 'auth',
    body: LoginRequestSchema,
    rateSubject: (b) => b.username.normalize('NFKC').toLowerCase(),
    response: AuthResponseSchema,
    status: 201,
    handler: ({ ctx, body }) => accounts.login(ctx, body),
  }),
  route({
    method: 'DELETE',
    path: '/v1/sessions/current',
    auth: true,
    rate: 'account',
    async handler({ ctx, caller }) {
      await accounts.logout(ctx, me(caller).token);
      return undefined;
    },
  }),
  route({
    method: 'GET',
    path: '/v1/devices',
    auth: true,
    rate: 'account',
    response: DeviceListResponseSchema,
    handler: ({ ctx, caller }) => accounts.listOwnDevices(ctx, me(caller).userId, me(caller).deviceId),
  }),
  route({
    method: 'DELETE',
    path: '/v1/devices/:deviceId',
    auth: true,
    rate: 'account',
    params: z.object({ deviceId: DeviceIdSchema }),
    async handler({ ctx, caller, params }) {
      await accounts.revokeOwnDevice(ctx, me(caller).userId, params.deviceId);
      return undefined;
    },
  }),
  route({
    method: 'GET',
    path: '/v1/users/:username/devices',
    auth: true,
    rate: 'account',
    params: z.object({ username: z.string().min(1).max(128) }),
    response: UserDevicesResponseSchema,
    handler: ({ ctx, params }) => accounts.userDevices(ctx, params.username),
  }),
  route({
    method: 'POST',
    path: '/v1/key-packages',
    auth: true,
    rate: 'account',
    body: KeyPackageUploadSchema,
    response: KeyPackageStockSchema,
    handler: ({ ctx, caller, body }) => keyPackages.uploadKeyPackages(ctx, me(caller).userId, me(caller).deviceId, body),
  }),
  route({
    method: 'GET',
    path: '/v1/key-packages',
    auth: true,
    rate: 'account',
    response: KeyPackageStockSchema,
    handler: ({ ctx, caller }) => keyPackages.keyPackageStock(ctx, me(caller).deviceId),
  }),
  route({
    method: 'POST',
    path: '/v1/key-packages/claim',
    auth: true,
    rate: 'account',
    body: ClaimKeyPackagesRequestSchema,
    response: ClaimKeyPackagesResponseSchema,
    handler: ({ ctx, body }) => keyPackages.claimKeyPackages(ctx, body.deviceIds),
  }),
  route({
    method: 'POST',
    path: '/v1/groups',
    auth: true,
    rate: 'account',
    body: CreateGroupRequestSchema,
    response: GroupInfoResponseSchema,
    status: 201,
    handler: ({ ctx, caller, body }) => delivery.createGroup(ctx, me(caller).deviceId, body.groupId),
  }),
  route({
    method: 'GET',
    path: '/v1/groups',
    auth: true,
    rate: 'account',
    response: GroupListResponseSchema,
    handler: ({ ctx, caller }) => delivery.listGroups(ctx, me(caller).deviceId),
  }),
  route({
    method: 'GET',
    path: '/v1/groups/:groupId',
    auth: true,
    rate: 'account',
    params: z.object({ groupId: GroupIdSchema }),
    response: GroupInfoResponseSchema,
    handler: ({ ctx, caller, params }) => delivery.groupInfo(ctx, me(caller).deviceId, params.groupId),
  }),
  route({
    method: 'PUT',
    path: '/v1/blobs/:digest',
    auth: true,
    rate: 'account',
    stream: true,
    params: z.object({ digest: BlobDigestSchema }),
    response: BlobUploadResponseSchema,
    status: 201,
    handler: ({ ctx, params, req }) => {
      const declared = Number(req.headers['content-length'] ?? NaN);
      return blobs.uploadBlob(ctx, params.digest, req, Number.isFinite(declared) ? declared : undefined);
    },
  }),
  route({
    method: 'GET',
    path: '/v1/blobs/:digest',
    auth: true,
    rate: 'account',
    params: z.object({ digest: BlobDigestSchema }),
    async handler({ ctx, params, res }) {
      const blob = await blobs.downloadBlob(ctx, params.digest);
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': blob.size,
        'cache-control': 'private, max-age=31536000, immutable',
      });
      blob.stream.on('error', () => res.destroy());
      blob.stream.pipe(res);
      return undefined;
    },
  }),
];
