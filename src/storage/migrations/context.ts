import type { ColumnDefinitionBuilder } from 'kysely';

/** What a migration gets besides the database: the spellings that differ between SQLite and PostgreSQL. */
export interface MigrationContext {
  /** Auto-incrementing integer primary key, spelled the way each database wants it. */
  idColumn: { type: 'integer' | 'serial'; build: (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder };
}
