/**
 * Whether an error means a dependency (PostgreSQL, Redis) is down or unreachable rather
 * than a fault of ours: such requests are answered UNAVAILABLE, which clients may retry.
 */
export function isDependencyDown(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const e = error as { code?: string; name?: string; message?: string };
  const networkCodes = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'];
  if (e.code && networkCodes.includes(e.code)) return true;
  // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many connections.
  if (e.code && ['57P01', '57P02', '57P03', '53300'].includes(e.code)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  const message = e.message ?? '';
  return (
    message.includes('Connection is closed') ||
    message.includes("Stream isn't writeable") ||
    message.includes('Command timed out') ||
    message.includes('Connection terminated') ||
    message.includes('timeout exceeded when trying to connect')
  );
}
