/**
 * A LIKE pattern matching `text` anywhere, with LIKE's wildcards in it taken literally. Used with
 * `escape '\'`, which SQLite and PostgreSQL both understand.
 */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
