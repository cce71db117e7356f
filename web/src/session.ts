import { gql } from './api';

export type Role = 'ADMIN' | 'CLIENT' | 'VIEWER';
export interface Me {
  role: Role;
  principal: { name: string; organization: { name: string; currency: string } };
}

export const CURRENT_KEY = '{ currentKey { id role principal { name organization { name currency } } } }';

export async function whoAmI(key?: string): Promise<Me> {
  return (await gql<{ currentKey: Me }>(CURRENT_KEY, undefined, key)).currentKey;
}
