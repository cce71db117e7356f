// One formatter per currency: building an Intl.NumberFormat costs more than formatting with it.
let money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 2 });
// Budgets hold fractions of a cent (one model call): up to 4 decimals there.
let fine = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 4 });
export function setCurrency(code: string): void {
  money = new Intl.NumberFormat('en-US', { style: 'currency', currency: code, maximumFractionDigits: 2 });
  fine = new Intl.NumberFormat('en-US', { style: 'currency', currency: code, maximumFractionDigits: 4 });
}
const int = new Intl.NumberFormat('en-US');
const dec = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
export const fmtInt = (n: number): string => int.format(n);
export const fmtNum = (n: number): string => dec.format(n);
export const fmtPct = (share: number): string => `${dec.format(share * 100)}%`;
export const fmtMoney = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : money.format(n));
export const fmtMoneyFine = (n: number): string => fine.format(n);
export const fmtTime = (iso: string | null | undefined): string => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');
export function fmtAge(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
