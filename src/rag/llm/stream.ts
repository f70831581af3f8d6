// Turns callback-style generation (node-llama-cpp's onTextChunk) into an async iterable of
// text pieces. Unbounded: generation is far slower than any consumer, so no back-pressure.

export class PushStream<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private done = false;
  private error: unknown = undefined;
  private failed = false;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.notify();
  }

  end(): void {
    this.done = true;
    this.notify();
  }

  fail(error: unknown): void {
    this.failed = true;
    this.error = error;
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const next = this.items.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.failed) throw this.error;
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
