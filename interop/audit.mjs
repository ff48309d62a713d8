// The GraphQL over HTTP audit suite of the graphql-http package against /graphql.
// Every MUST must pass; SHOULD failures are listed (see README).
import { serverAudits } from 'graphql-http';
import { URL } from './common.mjs';

const results = [];
for (const audit of serverAudits({ url: `${URL}/graphql`, fetchFn: fetch })) {
  results.push(await audit.fn());
}
const failed = results.filter((r) => r.status === 'error');
const warned = results.filter((r) => r.status === 'warn');
for (const r of warned) console.log(`  SHOULD not met: ${r.name} (${r.reason})`);
for (const r of failed) console.log(`  MUST failed: ${r.name} (${r.reason})`);
console.log(`${results.length} audits: ${results.length - failed.length - warned.length} pass, ${warned.length} SHOULD warnings, ${failed.length} MUST failures`);
process.exit(failed.length ? 1 : 0);
