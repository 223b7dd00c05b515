// Undo/redo of one image's objects: snapshots before each change (pure, unit-tested in web/test/).

export class History<S> {
  private undos: S[] = [];
  private redos: S[] = [];

  constructor(private readonly limit = 200) {}

  get canUndo(): boolean { return this.undos.length > 0; }
  get canRedo(): boolean { return this.redos.length > 0; }

  /** Before a change: keep the state it starts from; a new change forgets what was undone. */
  remember(state: S): void {
    this.undos.push(state);
    if (this.undos.length > this.limit) this.undos.shift();
    this.redos = [];
  }

  /** A remembered change that did not happen after all (a click that moved nothing). */
  forget(): void { this.undos.pop(); }

  /** The state to go back to, given the current one (kept for redo); null when there is none. */
  undo(current: S): S | null {
    const prev = this.undos.pop();
    if (prev === undefined) return null;
    this.redos.push(current);
    return prev;
  }

  /** The state undone last, given the current one (kept for undo); null when there is none. */
  redo(current: S): S | null {
    const next = this.redos.pop();
    if (next === undefined) return null;
    this.undos.push(current);
    return next;
  }
}
