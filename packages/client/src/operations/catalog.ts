/** Pools, apps and keys: what `pools()`, `watchPools()`, `currentKey()` and the admin helpers send (see leases.ts for why these are marked strings). */

export const POOL_FIELDS = /* GraphQL */ `
  fragment PoolFields on Pool {
    id
    name
    cap
    inUse
    available
    activeLeases
    queueLength
    defaultLeaseSeconds
    maxLeaseSeconds
    maxBorrowHours
    apps {
      id
      key
      name
      cost
    }
  }
`;

export const POOLS = /* GraphQL */ `
  query Pools {
    pools {
      ...PoolFields
    }
  }
  ${POOL_FIELDS}
`;

export const POOLS_CHANGED = /* GraphQL */ `
  subscription PoolsChanged {
    poolsChanged {
      ...PoolFields
    }
  }
  ${POOL_FIELDS}
`;

export const CURRENT_KEY = /* GraphQL */ `
  query CurrentKey {
    currentKey {
      id
      role
      principal {
        id
        name
        kind
        team
      }
    }
  }
`;

export const CREATE_POOL = /* GraphQL */ `
  mutation CreatePool($input: CreatePoolInput!) {
    createPool(input: $input) {
      ...PoolFields
    }
  }
  ${POOL_FIELDS}
`;

export const CREATE_APP = /* GraphQL */ `
  mutation CreateApp($input: CreateAppInput!) {
    createApp(input: $input) {
      id
      key
      name
      cost
      vendor
      shareScope
      lingerSeconds
      minimumChargeSeconds
      externalNames
    }
  }
`;

/** The key's organization id: the path of its revocation list (/.well-known/revoked-leases/<id>). */
export const ORGANIZATION_ID = /* GraphQL */ `
  query OrganizationId {
    me {
      organization {
        id
      }
    }
  }
`;
