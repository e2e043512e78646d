/**
 * An expected partner: `matrix.trust.nhs.uk`, `host:port`, or `*.nhs.uk` (any name under
 * nhs.uk); no port means any port. Imports nothing: the admin API's contract validates with it.
 */
export const PARTNER_PATTERN = /^(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*(:\d{1,5})?$/;
