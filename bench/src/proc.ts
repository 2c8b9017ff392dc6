import { readFileSync } from 'node:fs';

/** CPU time (user + system, ms) and memory of another process, read from /proc. */

const CLK_TCK = 100;

export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return ((utime + stime) * 1000) / CLK_TCK;
}

function statusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = status.split('\n').find((l) => l.startsWith(`${field}:`));
  return line ? Number(line.replace(/\D+/g, ' ').trim().split(' ')[0]) : 0;
}

export function rssKb(pid: number): number {
  return statusKb(pid, 'VmRSS');
}

export function peakRssKb(pid: number): number {
  return statusKb(pid, 'VmHWM');
}
