/**
 * Health (invariant 3): the storage and database checks that open and close the intake gate, and
 * what `/healthz`, `/readyz` and the dashboard's "last errors" report.
 */
export * from './intake.ts';
export * from './report.ts';
