/** The most handed on at once: the clock below then measures the reader's pace in slices this big, not in whole batches. */
const SLICE_BYTES = 64 * 1024;

/**
 * Passes chunks on in slices of at most 64 KiB, and calls `onIdle` if the reader takes
 * nothing for `timeoutMs`. Each slice starts the clock when it is handed on; the stream's
 * next pull stops it. A stream pulls only while its buffer has room, that is as the socket
 * drains, so the clock runs out only for a reader that stopped reading (or takes less than
 * a slice in `timeoutMs`), never for a slow query: that runs between a pull and the next slice.
 */
export async function* untilIdle(chunks: AsyncIterable<Buffer>, timeoutMs: number, onIdle: () => void): AsyncGenerator<Buffer> {
  let timer: NodeJS.Timeout | undefined;
  try {
    for await (const chunk of chunks) {
      for (let at = 0; at < chunk.length; at += SLICE_BYTES) {
        timer = setTimeout(onIdle, timeoutMs);
        yield chunk.subarray(at, at + SLICE_BYTES);
        clearTimeout(timer);
      }
    }
  } finally {
    clearTimeout(timer);
  }
}
