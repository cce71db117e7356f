import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, KeyLike } from 'jose';
import { EntityManager, IsNull, Not, Repository } from 'typeorm';
import { AppError } from '../common/errors/app-error';
import { APP_CONFIG, AppConfig } from '../config/env';
import { MAX_BORROW_HOURS } from '../pools/pools.service';
import { PublicJwk, SigningKeyEntity } from './signing-key.entity';

/** A public key as GET /.well-known/jwks.json lists it. */
export interface PublishedJwk extends PublicJwk {
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

export interface SigningKey {
  kid: string;
  privateKey: KeyLike;
}

interface KeyMaterial extends SigningKey {
  publicJwk: PublicJwk;
  privateKeyPem: string;
}

interface KeyRing {
  signing: SigningKey;
  published: PublishedJwk[];
  verifying: Map<string, KeyLike>;
  loadedAt: number;
}

// A proof's exp is its lease's expiresAt: a lease lasts 7 days at most, a borrowed one
// MAX_BORROW_HOURS (30 days; pools.service), so a key retired that long ago signed nothing still
// valid. The extra hour covers replicas still signing with their cached key just after a
// rotation, and clock skew.
export const RETIRED_KEY_PUBLISHED_SECONDS = MAX_BORROW_HOURS * 3_600 + 3_600;

// How long a replica trusts its copy of the keys: a rotation made elsewhere reaches it within this.
const RING_TTL_MS = 30_000;
// A proof naming a kid this replica does not know makes it read the keys again, at most this often.
const UNKNOWN_KID_RELOAD_MS = 1_000;
// Serializes key creation across replicas that start together (any constant other than the migration lock's).
const SIGNING_KEYS_LOCK = 7_246_151_002;

/**
 * The keys that sign lease proofs: the one to sign with and the ones to publish. Without
 * LEASE_SIGNING_KEY the first replica to need a key generates it and stores it; with it, the
 * configured key is recorded (public half only) so it stays published after it is replaced.
 */
@Injectable()
export class SigningKeysService {
  private readonly configuredPem: string | undefined;
  private ring?: KeyRing;
  private loading?: Promise<KeyRing>;

  constructor(
    @InjectRepository(SigningKeyEntity) private readonly keys: Repository<SigningKeyEntity>,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'leaseSigningKey'>,
  ) {
    this.configuredPem = config.leaseSigningKey;
  }

  async signingKey(): Promise<SigningKey> {
    return (await this.current()).signing;
  }

  /** The active key and every retired key that may still have signed an unexpired proof. */
  async publishedKeys(): Promise<PublishedJwk[]> {
    return (await this.current()).published;
  }

  async verificationKey(kid: string | undefined): Promise<KeyLike | undefined> {
    if (kid === undefined) return undefined;
    let ring = await this.current();
    // Another replica may have rotated since this one last read the keys.
    if (!ring.verifying.has(kid) && Date.now() - ring.loadedAt >= UNKNOWN_KID_RELOAD_MS) ring = await this.reload();
    return ring.verifying.get(kid);
  }

  /**
   * Generates a new key and signs with it from now on; the old one stays published until
   * every proof it signed has expired. Returns the new kid.
   */
  async rotate(): Promise<string> {
    if (this.configuredPem !== undefined) {
      throw new AppError('BAD_REQUEST', 'The signing key is set by LEASE_SIGNING_KEY: put a new key there and restart to rotate');
    }
    const next = await generatedKey();
    await this.keys.manager.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [SIGNING_KEYS_LOCK]);
      await activate(m, next, { storePrivate: true });
    });
    this.ring = undefined;
    return next.kid;
  }

  private async current(): Promise<KeyRing> {
    if (this.ring && Date.now() - this.ring.loadedAt < RING_TTL_MS) return this.ring;
    return this.reload();
  }

  private reload(): Promise<KeyRing> {
    this.loading ??= this.load()
      .then((ring) => (this.ring = ring))
      .finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<KeyRing> {
    const signing = this.configuredPem !== undefined ? await this.adoptConfigured(await keyFromPem(this.configuredPem)) : await this.ensureGenerated();
    const rows = await this.keys
      .createQueryBuilder('k')
      .where('k.retiredAt IS NULL OR k.retiredAt > now() - make_interval(secs => :secs)', { secs: RETIRED_KEY_PUBLISHED_SECONDS })
      .orderBy('k.createdAt', 'DESC')
      .getMany();
    const published = rows.map((row) => toPublished(row.kid, row.publicJwk));
    // Always publish the key this replica signs with, even a configured key replaced long ago.
    if (!published.some((jwk) => jwk.kid === signing.kid)) published.unshift(toPublished(signing.kid, signing.publicJwk));
    const verifying = new Map<string, KeyLike>();
    for (const jwk of published) verifying.set(jwk.kid, (await importJWK(jwk, 'EdDSA')) as KeyLike);
    return { signing: { kid: signing.kid, privateKey: signing.privateKey }, published, verifying, loadedAt: Date.now() };
  }

  private async ensureGenerated(): Promise<KeyMaterial> {
    const found = await newestGenerated(this.keys.manager);
    if (found) return found;
    return this.keys.manager.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [SIGNING_KEYS_LOCK]);
      // Another replica may have created it while this one waited for the lock.
      const raced = await newestGenerated(m);
      if (raced) return raced;
      const next = await generatedKey();
      await activate(m, next, { storePrivate: true });
      return next;
    });
  }

  /**
   * Records a configured key the first time it is seen, retiring the key it replaces. A key
   * already recorded is left as it is, so replicas still on the previous key during a rolling
   * update do not take the active role back.
   */
  private async adoptConfigured(key: KeyMaterial): Promise<KeyMaterial> {
    if (await this.keys.existsBy({ kid: key.kid })) return key;
    await this.keys.manager.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [SIGNING_KEYS_LOCK]);
      if (!(await m.getRepository(SigningKeyEntity).existsBy({ kid: key.kid }))) await activate(m, key, { storePrivate: false });
    });
    return key;
  }
}

function toPublished(kid: string, jwk: PublicJwk): PublishedJwk {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid, alg: 'EdDSA', use: 'sig' };
}

async function keyFromPem(privateKeyPem: string): Promise<KeyMaterial> {
  const privateKey = await importPKCS8(privateKeyPem, 'EdDSA');
  const { crv, x } = await exportJWK(privateKey);
  if (crv !== 'Ed25519' || x === undefined) throw new Error('A lease signing key must be an Ed25519 key');
  const publicJwk: PublicJwk = { kty: 'OKP', crv: 'Ed25519', x };
  return { kid: await calculateJwkThumbprint(publicJwk), privateKey, publicJwk, privateKeyPem };
}

async function generatedKey(): Promise<KeyMaterial> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return keyFromPem(await exportPKCS8(privateKey));
}

async function newestGenerated(m: EntityManager): Promise<KeyMaterial | null> {
  const row = await m.getRepository(SigningKeyEntity).findOne({ where: { retiredAt: IsNull(), privateKeyPem: Not(IsNull()) }, order: { createdAt: 'DESC' } });
  return row?.privateKeyPem ? keyFromPem(row.privateKeyPem) : null;
}

/** Makes `key` the only active key; call under SIGNING_KEYS_LOCK. */
async function activate(m: EntityManager, key: KeyMaterial, options: { storePrivate: boolean }): Promise<void> {
  await m.query('UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL AND kid <> $1', [key.kid]);
  await m.query(
    `INSERT INTO signing_keys (kid, private_key_pem, public_jwk) VALUES ($1, $2, $3)
     ON CONFLICT (kid) DO UPDATE SET retired_at = NULL`,
    [key.kid, options.storePrivate ? key.privateKeyPem : null, JSON.stringify(key.publicJwk)],
  );
}
