import { config } from "zod";

// The portal runs under a Content-Security-Policy without 'unsafe-eval' (docs/security.md).
// zod builds faster object parsers with `new Function` when it may, and probes for that as each
// schema is built, which the browser reports as a policy violation. Imported first by main.ts,
// so this holds before the contract's schemas exist.
config({ jitless: true });
