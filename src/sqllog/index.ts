/**
 * External SQL recording logs (G2): destinations of the archive outbox, like storage targets, that
 * take one row per recording instead of its files (`Destination` of kind `row`, wired in `app.ts`).
 * The table in the admin's external database is the only schema created outside `store/`; the
 * definitions of the logs live in the embedded database (`sql_logs`, `store/migrations.ts`).
 */
export * from './sqllog.ts';
export * from './registry.ts';
export * from './destination.ts';
