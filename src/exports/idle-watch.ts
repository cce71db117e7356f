/**
 * Passes chunks on, and calls `onIdle` if the reader takes nothing for `timeoutMs`. Each
 * chunk starts the clock when it is handed on; the stream's next pull stops it. A stream
 * pulls only while its buffer has room, that is while the socket drains, so the clock runs
 * out only for a reader that stopped reading, never for a slow query (it runs between the
 * pull and the next chunk).
 */
export async function* untilIdle<T>(chunks: AsyncIterable<T>, timeoutMs: number, onIdle: () => void): AsyncGenerator<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    for await (const chunk of chunks) {
      timer = setTimeout(onIdle, timeoutMs);
      yield chunk;
      clearTimeout(timer);
    }
  } finally {
    clearTimeout(timer);
  }
}
