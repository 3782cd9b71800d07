/** Tenancy facts the routes and services share. */

/** The operator's tenant: its admin keys manage the platform (tenants, node tokens, warm-ups). */
export const OPERATOR_TENANT = 'default';
