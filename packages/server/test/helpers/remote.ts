import { randomBytes } from 'node:crypto';
import { toBase64Url, type AuthResponse, type DeviceId, type GroupId } from '@parley/protocol';
import { newGroupId, TestSocket } from './test-network.js';

/** Protocol-level helpers against a server reached only by URL (a child process). */
export async function registerAt(url: string, username = `u${randomBytes(4).toString('hex')}`): Promise<AuthResponse & { password: string }> {
  const password = 'correct horse battery';
  const res = await fetch(`${url}/v1/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, device: { name: 'test', signatureKey: toBase64Url(randomBytes(32)) } }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  return { ...((await res.json()) as AuthResponse), password };
}

/** Creates a group as `owner` and adds `members` (their welcome at seq 1). */
export async function groupAt(url: string, owner: { token: string; deviceId: DeviceId }, members: DeviceId[]): Promise<GroupId> {
  const g = newGroupId();
  const res = await fetch(`${url}/v1/groups`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${owner.token}` },
    body: JSON.stringify({ groupId: g.id }),
  });
  if (res.status !== 201) throw new Error(`create group: ${res.status}`);
  const s = await TestSocket.open(url.replace('http', 'ws') + '/v1/ws', owner.token);
  const r = await s.commit(g.id, 0, [owner.deviceId, ...members], members);
  s.close();
  if (r.t !== 'ok') throw new Error(`commit: ${JSON.stringify(r)}`);
  return g.id;
}

/** Keeps the distinct application seqs a device received in a group, counting repeats. */
export class Inbox {
  readonly seqs = new Set<number>();
  duplicates = 0;

  take(socket: TestSocket, group: GroupId, from = 0): void {
    for (const m of socket.messages(group).slice(from)) {
      if (m.kind !== 'application') continue;
      if (this.seqs.has(m.seq)) this.duplicates++;
      else this.seqs.add(m.seq);
    }
  }
}
