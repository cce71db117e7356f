/**
 * How a column's cells are written. `verbatim` cells are written as PostgreSQL formats
 * them: numbers (a spreadsheet reads `-1.5` as a number, not a formula), uuids, timestamps,
 * and codes a CHECK constraint limits (kind, meter, cost source); none of them can hold a
 * comma, quote or line break. `text` cells may hold anything a caller once sent (a work
 * unit reference, a model, a principal's name), so they are quoted as needed and
 * neutralised against formula injection.
 */
export type CsvKind = 'verbatim' | 'text';

/**
 * A text cell that a spreadsheet would run as a formula (it starts with =, +, -, @, tab or
 * carriage return) gets a leading apostrophe, as OWASP's CSV injection guidance says; then
 * RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. Null is
 * an empty field.
 */
export function csvText(value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '';
  const first = value.charCodeAt(0);
  // = + - @ TAB CR
  const text = first === 61 || first === 43 || first === 45 || first === 64 || first === 9 || first === 13 ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A verbatim cell (see CsvKind), e.g. a number as PostgreSQL formatted it; null is empty. */
export function csvVerbatim(value: string | number | null | undefined): string {
  return value === null || value === undefined ? '' : String(value);
}

/** One CSV record of text cells, CRLF-terminated as RFC 4180 asks (the header line). */
export function csvLine(fields: readonly (string | null | undefined)[]): string {
  return fields.map(csvText).join(',') + '\r\n';
}

/**
 * A function writing one record from a row of values in column order. Built once per
 * export: a row of an export is written tens of thousands of times a second.
 */
export function csvRecordWriter(kinds: readonly CsvKind[]): (row: readonly (string | null)[]) => string {
  const writers = kinds.map((kind) => (kind === 'verbatim' ? csvVerbatim : csvText));
  const last = writers.length - 1;
  return (row) => {
    let line = '';
    for (let i = 0; i < last; i++) line += writers[i](row[i]) + ',';
    return line + writers[last](row[last]) + '\r\n';
  };
}
