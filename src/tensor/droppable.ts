// Buffers whose memory goes back to the system when the code that made them says so, not when V8's
// collector next runs: resizable ArrayBuffers, which V8 maps on their own pages outside the malloc heap
// and whose pages resize(0) returns at once. A plain buffer that is no longer referenced keeps its pages
// until a collection, which can be long after: a process that makes few JavaScript objects (a decoder's
// steady loop) may run for minutes without one, with a loaded model's dropped copy still resident.

type Resizable = ArrayBuffer & { resize(byteLength: number): void; readonly resizable: boolean };
const ResizableBuffer = ArrayBuffer as unknown as new (
  byteLength: number,
  options: { maxByteLength: number },
) => Resizable;
const droppable = new WeakSet<ArrayBuffer>();

/** A zeroed buffer of `byteLength` bytes that `dropBuffer` can give back at once. Untouched pages never become resident. */
export function droppableBytes(byteLength: number): Uint8Array {
  const buf = new ResizableBuffer(byteLength, { maxByteLength: byteLength });
  droppable.add(buf);
  return new Uint8Array(buf, 0, byteLength);
}

/**
 * Returns the memory of `buffer` now if droppableBytes made it and it was not dropped yet (every view of
 * it then has length 0); any other buffer is left to the collector. The caller must know that nothing
 * else still reads it.
 */
export function dropBuffer(buffer: ArrayBufferLike): void {
  if (!droppable.delete(buffer as ArrayBuffer)) return;
  (buffer as Resizable).resize(0);
}
