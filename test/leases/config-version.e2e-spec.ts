import { DataSource } from 'typeorm';
import { PoolMirror } from '../../src/leases/pool-mirror';
import { PoolEntity } from '../../src/pools/pool.entity';
import { TestApp } from '../support/app';
import { createPool } from '../support/catalog';

/**
 * The worker's resync writes a pool's configuration as it read it at the start of its sweep.
 * A catalog change committed meanwhile carries a higher version, and Redis keeps it: the
 * resync's older row never brings back the old cap.
 */
describe('the pool configuration mirrored into Redis', () => {
  let t: TestApp;
  let adminKey: string;

  beforeAll(async () => {
    t = await TestApp.start();
    ({ adminKey } = await t.organization('config-version'));
  });

  afterAll(async () => {
    await t.close();
  });

  const figures = async (poolId: string) => {
    const res = await t.gql<{ pools: { id: string; cap: number; available: number }[] }>(adminKey, '{ pools { id cap available } }');
    return res.data?.pools.find((p) => p.id === poolId);
  };

  it('keeps a lowered cap when a resync with the row read before the change writes after it', async () => {
    const { poolId } = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'solver', cost: 1 }] });
    const readBySweep = await t.app.get(DataSource).getRepository(PoolEntity).findOneByOrFail({ id: poolId });
    const lowered = await t.gql(adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { cap: 4 }) { cap } }', { id: poolId });
    expect(lowered.errors).toBeUndefined();

    expect(await t.app.get(PoolMirror).resync(readBySweep)).toMatchObject({ written: false });

    expect(await figures(poolId)).toEqual({ id: poolId, cap: 4, available: 4 });
  });
});
