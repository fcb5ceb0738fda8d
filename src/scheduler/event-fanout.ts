/**
 * Hands events to any number of async iterators. Each iterator buffers the
 * events that arrive while its consumer is busy and sees every event from
 * the moment it was created; an iterator that is abandoned (`return()`,
 * `break` out of `for await`) stops buffering.
 */

/** Buffers for each live iterator. */
export class EventFanout<T> {
  private readonly sinks = new Set<Sink<T>>();
  private ended = false;

  /** Delivers `item` to every live iterator. */
  push(item: T): void {
    for (const sink of this.sinks) sink.push(item);
  }

  /** Ends every iterator (after its buffered items); later iterators end at once. */
  end(): void {
    this.ended = true;
    for (const sink of this.sinks) sink.end();
    this.sinks.clear();
  }

  /** A new iterator over the items pushed from now on. */
  iterator(): AsyncIterableIterator<T> {
    const sink = new Sink<T>(() => this.sinks.delete(sink));
    if (this.ended) sink.end();
    else this.sinks.add(sink);
    return sink;
  }
}

class Sink<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private head = 0;
  private waiter: ((result: IteratorResult<T>) => void) | undefined;
  private done = false;

  constructor(private readonly detach: () => void) {}

  push(item: T): void {
    if (this.done) return;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter({ value: item, done: false });
    } else {
      this.buffer.push(item);
    }
  }

  end(): void {
    this.done = true;
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.buffer.length) {
      const value = this.buffer[this.head] as T;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.buffer.length) {
        this.buffer.splice(0, this.head);
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter !== undefined) {
      return Promise.reject(new Error("next() called again before the previous call resolved"));
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.head = 0;
    this.end();
    this.detach();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
