/** Timestamps come back as ISO text from SQLite and as Date from PostgreSQL: one Date for both. */
export function toDate(value: string | Date): Date {
  return value instanceof Date ? value : new Date(value);
}

export function toDateOrNull(value: string | Date | null): Date | null {
  return value === null ? null : toDate(value);
}
