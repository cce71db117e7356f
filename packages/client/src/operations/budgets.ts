/** Compute budgets and reservations (see leases.ts for why these are marked strings). */

export const BUDGET_FIELDS = /* GraphQL */ `
  fragment BudgetFields on ComputeBudget {
    id
    name
    scope
    team
    period
    limit
    spent
    reserved
    remaining
    periodStart
  }
`;

export const RESERVATION_FIELDS = /* GraphQL */ `
  fragment ReservationFields on ComputeReservation {
    id
    state
    amount
    expiresAt
    settledCost
    workUnit {
      id
    }
    budgets {
      ...BudgetFields
    }
  }
  ${BUDGET_FIELDS}
`;

export const RESERVE_COMPUTE = /* GraphQL */ `
  mutation ReserveCompute($input: ReserveComputeInput!) {
    reserveCompute(input: $input) {
      ...ReservationFields
    }
  }
  ${RESERVATION_FIELDS}
`;

export const SETTLE_COMPUTE = /* GraphQL */ `
  mutation SettleCompute($reservationId: ID!, $usage: ComputeUsageInput!) {
    settleCompute(reservationId: $reservationId, usage: $usage) {
      ...ReservationFields
    }
  }
  ${RESERVATION_FIELDS}
`;

export const CANCEL_RESERVATION = /* GraphQL */ `
  mutation CancelReservation($reservationId: ID!) {
    cancelReservation(reservationId: $reservationId) {
      ...ReservationFields
    }
  }
  ${RESERVATION_FIELDS}
`;

export const RESERVATION = /* GraphQL */ `
  query Reservation($id: ID!) {
    reservation(id: $id) {
      ...ReservationFields
    }
  }
  ${RESERVATION_FIELDS}
`;

export const COMPUTE_BUDGETS = /* GraphQL */ `
  query ComputeBudgets {
    computeBudgets {
      ...BudgetFields
    }
  }
  ${BUDGET_FIELDS}
`;
