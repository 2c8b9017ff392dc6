import { randomBytes } from 'node:crypto';
import { toBase64Url, type AuthResponse, type DeviceId, type GroupId } from '@parley/protocol';
import { mlsMessage, newGroupId, TestSocket } from './test-network.js';

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

/**
 * Streams application messages from `socket` into `group`, keeping up to
 * `window` sends in flight, until the socket closes. Returns the live list of
 * seqs the server acknowledged (`ok`), which is what must never be lost.
 */
export function streamSends(socket: TestSocket, group: GroupId, window = 16): number[] {
  const acked: number[] = [];
  let inflight = 0;
  let rid = 0;
  const pump = () => {
    while (!socket.closed && inflight < window && acked.length < 100_000) {
      inflight++;
      socket.sendFrame({ t: 'send', rid: ++rid, group }, [mlsMessage(group, 1, 'application')]);
    }
  };
  socket.ws.on('message', () => {
    for (const r of socket.received.splice(0)) {
      if (r.frame.t === 'ok' && r.frame.seq !== undefined) acked.push(r.frame.seq);
      if (r.frame.t === 'ok' || r.frame.t === 'error') inflight--;
    }
    pump();
  });
  pump();
  return acked;
}
