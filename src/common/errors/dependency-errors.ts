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
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true;
  const message = e.message ?? '';
  // Redis Cluster: a slot without a primary or being moved, a node loading its data after a
  // restart, and the client's own give-ups while the cluster changes shape.
  if (/^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN) /.test(message)) return true;
  return (
    message.includes('Too many Cluster redirections') ||
    message.includes('Failed to refresh slots cache') ||
    message.includes('None of startup nodes is available') ||
    message.includes('Connection is closed') ||
    message.includes("Stream isn't writeable") ||
    message.includes('Command timed out') ||
    message.includes('Connection terminated') ||
    message.includes('timeout exceeded when trying to connect')
  );
}
