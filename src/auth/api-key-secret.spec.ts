import { displayPrefixOf, hashApiKeySecret, looksLikeApiKey, newApiKeySecret } from './api-key-secret';

describe('API key secrets', () => {
  it('makes distinct tp_ secrets with 256 bits of randomness', () => {
    const a = newApiKeySecret();
    const b = newApiKeySecret();
    expect(a).toMatch(/^tp_[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
  });

  it('hashes deterministically to hex SHA-256', () => {
    expect(hashApiKeySecret('tp_abc')).toBe(hashApiKeySecret('tp_abc'));
    expect(hashApiKeySecret('tp_abc')).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKeySecret('tp_abc')).not.toBe(hashApiKeySecret('tp_abd'));
  });

  it('shows only a short prefix', () => {
    expect(displayPrefixOf('tp_0123456789abcdef')).toBe('tp_012345');
  });

  it('recognises the shape of a key', () => {
    expect(looksLikeApiKey(newApiKeySecret())).toBe(true);
    expect(looksLikeApiKey('Bearer x')).toBe(false);
  });
});
