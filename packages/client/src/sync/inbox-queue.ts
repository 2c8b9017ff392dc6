import type { MsgFrame } from '@parley/protocol';

/** A delivered frame, or a step that must run in order with them (end of backlog, a new connection). */
export type InboxItem = InboxFrame | { readonly task: () => Promise<void> };

export interface InboxFrame {
  readonly frame: MsgFrame;
  readonly payload: Uint8Array;
}

export function isFrame(item: InboxItem | undefined): item is InboxFrame {
  return item !== undefined && 'frame' in item;
}

/**
 * What the inbox has yet to process, in arrival order. A backlog streams in
 * much faster than it is decrypted and stored, so it piles up here, and the
 * inbox takes runs of consecutive frames of one group from the front.
 */
export class InboxQueue {
  private items: Array<InboxItem | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: InboxItem): void {
    this.items.push(item);
  }

  peek(): InboxItem | undefined {
    return this.items[this.head];
  }

  shift(): InboxItem | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.items[this.head] = undefined;
    this.head++;
    // Drop the consumed front now and then (shifting a long array per item costs O(n) each).
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
