/** The part of a net.Socket the corker needs. */
export interface Corkable {
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
}

/**
 * Holds back socket writes until the end of the current event-loop turn, so
 * the frames one socket gets in that turn (a reply and a delivery, say) leave
 * in one system call. One corker serves every connection of a server: a
 * fan-out to hundreds of sockets costs one scheduled callback, not hundreds.
 */
export class SocketCorker {
  private corked = new Set<Corkable>();
  private scheduled = false;

  cork(socket: Corkable): void {
    if (socket.destroyed || this.corked.has(socket)) return;
    socket.cork();
    this.corked.add(socket);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    const sockets = this.corked;
    this.corked = new Set();
    for (const s of sockets) if (!s.destroyed) s.uncork();
  }
}
