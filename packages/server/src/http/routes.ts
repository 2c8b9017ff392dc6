import { z } from 'zod';
import {
  BlobDigestSchema,
  BlobUploadResponseSchema,
  ClaimKeyPackagesRequestSchema,
  ClaimKeyPackagesResponseSchema,
  CreateGroupRequestSchema,
  GroupIdSchema,
  GroupInfoResponseSchema,
  GroupListResponseSchema,
  GroupRetentionResponseSchema,
  HealthResponseSchema,
  KeyPackageStockSchema,
  KeyPackageUploadSchema,
  MAX_PROFILE_BODY_BYTES,
  ParleyError,
  ProfileResponseSchema,
  ProfileVersionSchema,
  PROTOCOL_VERSIONS,
  PutProfileRequestSchema,
  PutPushSubscriptionRequestSchema,
  selfGroupOwner,
  SetGroupRetentionRequestSchema,
  VapidKeyResponseSchema,
} from '@parley/protocol';
import * as blobs from '../services/blobs.js';
import * as delivery from '../services/delivery.js';
import * as keyPackages from '../services/key-packages.js';
import * as profiles from '../services/profiles.js';
import * as push from '../services/push.js';
import { IDENTITY_ROUTES, me } from './identity-routes.js';
import { route, type Route } from './pipeline.js';

/** The HTTP API. WebSocket frames (send, commit, ack) are in ../ws. */
export const ROUTES: Route<unknown, unknown>[] = [
  ...IDENTITY_ROUTES,
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
    handler: ({ ctx, caller, body }) => keyPackages.claimKeyPackages(ctx, me(caller).userId, body.deviceIds),
  }),
  route({
    method: 'POST',
    path: '/v1/groups',
    auth: true,
    rate: 'account',
    body: CreateGroupRequestSchema,
    response: GroupInfoResponseSchema,
    status: 201,
    handler: ({ ctx, caller, body }) => {
      // A user's self-group id (protocol self-group.ts) is only that user's to create: nobody can take it first.
      const owner = selfGroupOwner(body.groupId);
      if (owner !== undefined && owner !== me(caller).userId) throw new ParleyError('forbidden', "this group id is reserved for another user's devices");
      return delivery.createGroup(ctx, me(caller).deviceId, body.groupId);
    },
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
    path: '/v1/groups/:groupId/retention',
    auth: true,
    rate: 'account',
    params: z.object({ groupId: GroupIdSchema }),
    body: SetGroupRetentionRequestSchema,
    response: GroupRetentionResponseSchema,
    handler: ({ ctx, caller, params, body }) => delivery.setRetention(ctx, me(caller).deviceId, params.groupId, body.seconds, body.seq),
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
    handler: ({ ctx, caller, params, req }) => {
      const declared = Number(req.headers['content-length'] ?? NaN);
      return blobs.uploadBlob(ctx, me(caller).userId, params.digest, req, Number.isFinite(declared) ? declared : undefined);
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
        'x-content-type-options': 'nosniff',
      });
      blob.stream.on('error', () => res.destroy());
      blob.stream.pipe(res);
      return undefined;
    },
  }),
  route({
    method: 'PUT',
    path: '/v1/profile',
    auth: true,
    rate: 'account',
    body: PutProfileRequestSchema,
    maxBodyBytes: MAX_PROFILE_BODY_BYTES,
    handler: async ({ ctx, caller, body }) => {
      await profiles.putProfile(ctx, me(caller).userId, body);
      return undefined;
    },
  }),
  route({
    method: 'GET',
    path: '/v1/profiles/:version',
    auth: true,
    rate: 'account',
    params: z.object({ version: ProfileVersionSchema }),
    response: ProfileResponseSchema,
    handler: ({ ctx, params }) => profiles.getProfile(ctx, params.version),
  }),
  route({
    method: 'DELETE',
    path: '/v1/profile',
    auth: true,
    rate: 'account',
    handler: async ({ ctx, caller }) => {
      await profiles.deleteProfile(ctx, me(caller).userId);
      return undefined;
    },
  }),
  route({
    method: 'GET',
    path: '/v1/push/vapid-key',
    auth: true,
    rate: 'account',
    response: VapidKeyResponseSchema,
    handler: ({ ctx }) => Promise.resolve(push.vapidKey(ctx)),
  }),
  route({
    method: 'PUT',
    path: '/v1/push/subscription',
    auth: true,
    rate: 'account',
    body: PutPushSubscriptionRequestSchema,
    handler: async ({ ctx, caller, body }) => {
      await push.putSubscription(ctx, me(caller).deviceId, body);
      return undefined;
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/push/subscription',
    auth: true,
    rate: 'account',
    handler: async ({ ctx, caller }) => {
      await push.deleteSubscription(ctx, me(caller).deviceId);
      return undefined;
    },
  }),
];
