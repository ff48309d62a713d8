// The sessionEvents subscription through npm graphql-ws (the protocol's
// reference client, over npm ws): a subscriber hears within a second that a
// logoutAll made from another session ended its session; a client without a
// valid token cannot subscribe.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { PASSWORD, URL, mailedLink } from './common.mjs';

const email = 'subscriber@example.com';
async function gql(query, variables, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const resp = await fetch(`${URL}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await resp.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}
const login = `mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { auth { accessToken } } }`;
await gql(`mutation($i: SignupInput!) { signup(input: $i) { confirmationRequired } }`, { i: { email, password: PASSWORD } });
await fetch(await mailedLink(email), { method: 'POST' });
const watched = (await gql(login, { e: email, p: PASSWORD })).login.auth.accessToken;
const elsewhere = (await gql(login, { e: email, p: PASSWORD })).login.auth.accessToken;

const wsUrl = `${URL.replace(/^http/, 'ws')}/graphql`;
function subscribe(token) {
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
  });
  const events = [];
  const done = new Promise((resolve, reject) => {
    client.subscribe({ query: 'subscription { sessionEvents { kind sessionId at } }' }, {
      next: (value) => { events.push({ value, at: Date.now() }); },
      error: (e) => reject(e),
      complete: () => resolve(events),
    });
  });
  return { client, done };
}

// A subscriber without a valid token is turned away.
const refused = subscribe('not-a-token');
const closed = await refused.done.then(() => null, (e) => e);
if (!closed || closed.code !== 4403) throw new Error(`expected a 4403 close, got ${JSON.stringify(closed)}`);
refused.client.dispose();

const { client, done } = subscribe(watched);
await new Promise((r) => setTimeout(r, 700)); // connected and subscribed
const ended = (await gql('mutation { logoutAll }', {}, elsewhere)).logoutAll;
const loggedOutAt = Date.now();
const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no event within 1 s of logoutAll')), 1000));
const events = await Promise.race([done, timeout]);
client.dispose();
if (ended !== 2) throw new Error(`logoutAll ended ${ended} sessions`);
if (events.length !== 1 || events[0].value.data.sessionEvents.kind !== 'SESSION_ENDED') {
  throw new Error(`events: ${JSON.stringify(events)}`);
}
console.log(`SESSION_ENDED ${events[0].at - loggedOutAt} ms after logoutAll; a bad token was closed with 4403`);
