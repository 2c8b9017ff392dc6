import { z } from 'zod';
import {
  ApproveLinkRequestSchema,
  AuthResponseSchema,
  ChangePasswordRequestSchema,
  DeleteAccountRequestSchema,
  DeviceIdSchema,
  DeviceListResponseSchema,
  LinkDeviceRequestSchema,
  LinkDeviceResponseSchema,
  LinkStatusResponseSchema,
  LoginRequestSchema,
  ParleyError,
  PendingDeviceResponseSchema,
  RegisterRequestSchema,
  ResetIdentityRequestSchema,
  SessionChallengeRequestSchema,
  SetDeviceNameRequestSchema,
  SessionChallengeResponseSchema,
  UserDevicesResponseSchema,
  UserIdSchema,
} from '@parley/protocol';
import * as accounts from '../services/accounts.js';
import * as devices from '../services/devices.js';
import * as links from '../services/links.js';
import * as sessions from '../services/sessions.js';
import { route, type Caller, type Route } from './pipeline.js';

export function me(caller: Caller | undefined): Caller {
  if (!caller) throw new ParleyError('unauthenticated', 'a bearer token is required');
  return caller;
}

/** The per-username limit key of a sign-in, link or registration attempt. */
const usernameSubject = (b: { username: string }) => b.username.normalize('NFKC').toLowerCase();

const LinkCodeParams = z.object({ code: z.string().min(1).max(64) });

/**
 * Accounts, sessions, devices, linking and the directory. Only the link
 * status and sign-out serve pending devices (`allowPending`).
 */
export const IDENTITY_ROUTES: Route<unknown, unknown>[] = [
  route({
    method: 'POST',
    path: '/v1/accounts',
    auth: false,
    rate: 'auth',
    body: RegisterRequestSchema,
    rateSubject: usernameSubject,
    response: AuthResponseSchema,
    status: 201,
    handler: ({ ctx, body }) => accounts.register(ctx, body),
  }),
  route({
    method: 'POST',
    path: '/v1/sessions/challenge',
    auth: false,
    rate: 'auth',
    body: SessionChallengeRequestSchema,
    response: SessionChallengeResponseSchema,
    status: 201,
    handler: ({ ctx, body }) => sessions.issueChallenge(ctx, body),
  }),
  route({
    method: 'POST',
    path: '/v1/sessions',
    auth: false,
    rate: 'auth',
    body: LoginRequestSchema,
    rateSubject: usernameSubject,
    response: AuthResponseSchema,
    status: 201,
    handler: ({ ctx, body }) => sessions.login(ctx, body),
  }),
  route({
    method: 'DELETE',
    path: '/v1/sessions/current',
    auth: true,
    allowPending: true,
    rate: 'account',
    async handler({ ctx, caller }) {
      await sessions.logout(ctx, me(caller));
      return undefined;
    },
  }),
  route({
    method: 'POST',
    path: '/v1/identity-resets',
    auth: false,
    rate: 'auth',
    body: ResetIdentityRequestSchema,
    rateSubject: usernameSubject,
    response: AuthResponseSchema,
    status: 201,
    handler: ({ ctx, body }) => accounts.resetIdentity(ctx, body),
  }),
  route({
    method: 'POST',
    path: '/v1/account/password',
    auth: true,
    rate: 'account',
    body: ChangePasswordRequestSchema,
    async handler({ ctx, caller, body }) {
      // Re-authentication with a password: limited like a sign-in for the same account.
      const c = me(caller);
      const limits = ctx.config.rateLimits;
      if (limits.enabled && !ctx.limiter.take(`password:${c.userId}`, limits.authPerMinute / 60, limits.authPerMinute)) {
        throw new ParleyError('rate_limited', 'too many attempts, slow down');
      }
      await accounts.changePassword(ctx, c.userId, c.token, body);
      return undefined;
    },
  }),
  route({
    method: 'POST',
    path: '/v1/account/deletion',
    auth: true,
    rate: 'account',
    body: DeleteAccountRequestSchema,
    async handler({ ctx, caller, body }) {
      // Re-authentication with a password: limited like a sign-in for the same account.
      const c = me(caller);
      const limits = ctx.config.rateLimits;
      if (limits.enabled && !ctx.limiter.take(`password:${c.userId}`, limits.authPerMinute / 60, limits.authPerMinute)) {
        throw new ParleyError('rate_limited', 'too many attempts, slow down');
      }
      await accounts.deleteAccount(ctx, c, body);
      return undefined;
    },
  }),
  route({
    method: 'POST',
    path: '/v1/device-links',
    auth: false,
    rate: 'auth',
    body: LinkDeviceRequestSchema,
    rateSubject: usernameSubject,
    response: LinkDeviceResponseSchema,
    status: 201,
    handler: ({ ctx, body }) => links.createLink(ctx, body),
  }),
  // Before /v1/device-links/:code, which has the same shape.
  route({
    method: 'GET',
    path: '/v1/device-links/current',
    auth: true,
    allowPending: true,
    rate: 'account',
    response: LinkStatusResponseSchema,
    handler: ({ ctx, caller }) => links.linkStatus(ctx, me(caller).deviceId),
  }),
  route({
    method: 'GET',
    path: '/v1/device-links/:code',
    auth: true,
    rate: 'account',
    params: LinkCodeParams,
    response: PendingDeviceResponseSchema,
    handler: ({ ctx, caller, params }) => {
      linkCodeLimit(ctx, me(caller).userId);
      return links.inspectLink(ctx, me(caller).userId, params.code);
    },
  }),
  route({
    method: 'POST',
    path: '/v1/device-links/:code/approve',
    auth: true,
    rate: 'account',
    params: LinkCodeParams,
    body: ApproveLinkRequestSchema,
    async handler({ ctx, caller, params, body }) {
      linkCodeLimit(ctx, me(caller).userId);
      await links.approveLink(ctx, me(caller).userId, me(caller).deviceId, params.code, body);
      return undefined;
    },
  }),
  route({
    method: 'DELETE',
    path: '/v1/device-links/:code',
    auth: true,
    rate: 'account',
    params: LinkCodeParams,
    async handler({ ctx, caller, params }) {
      linkCodeLimit(ctx, me(caller).userId);
      await links.rejectLink(ctx, me(caller).userId, params.code);
      return undefined;
    },
  }),
  route({
    method: 'GET',
    path: '/v1/devices',
    auth: true,
    rate: 'account',
    response: DeviceListResponseSchema,
    handler: ({ ctx, caller }) => devices.listOwnDevices(ctx, me(caller).userId, me(caller).deviceId),
  }),
  route({
    method: 'DELETE',
    path: '/v1/devices/:deviceId',
    auth: true,
    rate: 'account',
    params: z.object({ deviceId: DeviceIdSchema }),
    async handler({ ctx, caller, params }) {
      await devices.revokeOwnDevice(ctx, me(caller).userId, params.deviceId);
      return undefined;
    },
  }),
  route({
    method: 'PUT',
    path: '/v1/devices/:deviceId/name',
    auth: true,
    rate: 'account',
    params: z.object({ deviceId: DeviceIdSchema }),
    body: SetDeviceNameRequestSchema,
    async handler({ ctx, caller, params, body }) {
      await devices.setDeviceName(ctx, me(caller).userId, params.deviceId, body.encryptedName);
      return undefined;
    },
  }),
  route({
    method: 'GET',
    path: '/v1/users/by-id/:userId/devices',
    auth: true,
    rate: 'account',
    params: z.object({ userId: UserIdSchema }),
    response: UserDevicesResponseSchema,
    handler: ({ ctx, params }) => devices.userDevicesById(ctx, params.userId),
  }),
  route({
    method: 'GET',
    path: '/v1/users/:username/devices',
    auth: true,
    rate: 'account',
    params: z.object({ username: z.string().min(1).max(128) }),
    response: UserDevicesResponseSchema,
    handler: ({ ctx, params }) => devices.userDevices(ctx, params.username),
  }),
];

/** Link codes are 50 bits and live 10 minutes; looking them up is also slow, per account. */
function linkCodeLimit(ctx: Parameters<Route['handler']>[0]['ctx'], userId: string): void {
  const limits = ctx.config.rateLimits;
  if (limits.enabled && !ctx.limiter.take(`link-code:${userId}`, limits.linkCodePerMinute / 60, limits.linkCodePerMinute)) {
    throw new ParleyError('rate_limited', 'too many link code attempts, slow down');
  }
}
