import { untilIdle } from './idle-watch';

async function* chunks(...sizes: number[]): AsyncGenerator<Buffer> {
  for (const size of sizes) yield Buffer.alloc(size, 1);
}

describe('untilIdle', () => {
  it('hands chunks on in slices of at most 64 KiB, every byte in order', async () => {
    const sizes: number[] = [];
    for await (const slice of untilIdle(chunks(10, 200_000, 65_536), 60_000, () => undefined)) sizes.push(slice.length);
    expect(sizes).toEqual([10, 65_536, 65_536, 65_536, 3_392, 65_536]);
  });

  it('calls onIdle when a slice handed on is not followed by a pull, and not when the reader keeps pulling', async () => {
    jest.useFakeTimers();
    try {
      let idle = 0;
      const reader = untilIdle(chunks(100_000), 1000, () => (idle += 1));
      await reader.next();
      jest.advanceTimersByTime(999);
      await reader.next();
      jest.advanceTimersByTime(999);
      expect(idle).toBe(0);
      jest.advanceTimersByTime(1);
      expect(idle).toBe(1);
      await reader.return(undefined);
    } finally {
      jest.useRealTimers();
    }
  });
});
