// npm svix (Svix's library, which speaks Standard Webhooks) verifies the deliveries
// webhook_check.py received from authql, and refuses a tampered body.
import { readFileSync } from 'node:fs';
import { Webhook } from 'svix';

const { secret, deliveries } = JSON.parse(readFileSync(process.env.WEBHOOKS_DUMP, 'utf8'));
if (deliveries.length === 0) throw new Error('no deliveries to verify');
const wh = new Webhook(secret);
for (const { headers, body } of deliveries) {
  wh.verify(body, headers);
}
const { headers, body } = deliveries[0];
const tampered = body.replace('"data":{', '"data":{"admin":true,');
let refused = false;
try {
  wh.verify(tampered, headers);
} catch {
  refused = true;
}
if (!refused) throw new Error('svix accepted a tampered body');
console.log(`${deliveries.length} deliveries verified by svix; a tampered body refused`);
