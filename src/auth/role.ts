/** What an API key may do (the contract's "Who may do what"); every feature's @Roles names these. */
export type Role = 'ADMIN' | 'CLIENT' | 'VIEWER';
