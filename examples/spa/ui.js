// What every part of the example app shares: the client, the status line,
// running a step so that failures are shown, and calls as the signed-in user.
import { AuthqlClient } from './gql.js';

export const api = new AuthqlClient(`${window.AUTHQL_URL}/graphql`);
export const $ = (id) => document.getElementById(id);
export const AUTH = 'accessToken user { email }';
// What every way of signing in answers (login, verifyMfa aside): tokens, or a second factor to ask for.
export const LOGIN = `mfaRequired mfaToken mfaMethods auth { ${AUTH} }`;

export function say(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

// Shows what went wrong instead of failing silently.
export async function run(step) {
  try {
    await step();
  } catch (e) {
    say(`${e.message}${e.code ? ` (${e.code})` : ''}`, true);
  }
}

export async function refresh() {
  try {
    const { refreshToken } = await api.request(`mutation { refreshToken { ${AUTH} } }`);
    api.signedIn(refreshToken);
    return true;
  } catch {
    api.signedIn(null);
    return false;
  }
}

// Runs an operation as the signed-in user; an expired access token is refreshed once.
export async function call(query, variables) {
  try {
    return await api.request(query, variables);
  } catch (e) {
    if (e.code !== 'UNAUTHENTICATED' || !(await refresh())) throw e;
    return api.request(query, variables);
  }
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : 'never';
}
