import { ReplyError } from 'ioredis';
import { isDependencyDown } from './dependency-errors';

describe('isDependencyDown', () => {
  it('counts a Redis Cluster that is changing shape as down, so the request answers UNAVAILABLE', () => {
    for (const message of [
      'CLUSTERDOWN The cluster is down',
      'CLUSTERDOWN Hash slot not served',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'LOADING Redis is loading the dataset in memory',
      'Too many Cluster redirections. Last error: Error: Connection is closed.',
      'Failed to refresh slots cache.',
      'None of startup nodes is available',
    ]) {
      expect({ message, down: isDependencyDown(new ReplyError(message)) }).toEqual({ message, down: true });
    }
  });

  it('keeps a script error or a wrong argument a fault of ours', () => {
    expect(isDependencyDown(new ReplyError('ERR Error running script (call to f_x): user_script:1: bad'))).toBe(false);
    expect(isDependencyDown(new ReplyError("CROSSSLOT Keys in request don't hash to the same slot"))).toBe(false);
    expect(isDependencyDown(new Error('something else'))).toBe(false);
  });
});
