// Sign-in providers (Google, GitHub, any OpenID Connect provider authql is
// configured with). Signing in: the app makes a PKCE pair, keeps the verifier
// in sessionStorage (this tab only, gone when it closes), sends the browser to
// authql with the challenge, and trades the code it comes back with for a
// session with `exchangeLoginCode(code, codeVerifier)`. A code that reaches
// the app without the verifier of this tab (another app, or a page that
// drove the browser through someone else's sign-in) is worth nothing.
// Linking: `linkIdentity` gives an address whose flow comes back with
// `?link_code=`, which the same account completes.
import { $, LOGIN, api, call, refresh, say } from './ui.js';
import { base64url } from './webauthn.js';

const VERIFIER = 'authql.pkce-verifier';
const LINKING = 'authql.linking';
const RETURN = () => `${location.origin}/oauth/callback`;

export async function providers() {
  const { oauthProviders } = await api.request('{ oauthProviders { name displayName authorizeUrl } }');
  return oauthProviders;
}

async function signIn(provider) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(VERIFIER, verifier);
  const url = new URL(provider.authorizeUrl);
  url.searchParams.set('redirect_to', RETURN());
  url.searchParams.set('code_challenge', challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  location.assign(url);
}

async function link(provider) {
  const { linkIdentity } = await call('mutation($p: String!, $r: String) { linkIdentity(provider: $p, redirectTo: $r) }', {
    p: provider.name,
    r: RETURN(),
  });
  sessionStorage.setItem(LINKING, provider.name);
  location.assign(linkIdentity);
}

function button(text, className, onclick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = className;
  b.onclick = onclick;
  return b;
}

/** "Sign in with …" buttons on the signed-out view. */
export function renderSignIn(list, run) {
  $('providers').replaceChildren(...list.map((p) => button(`Sign in with ${p.displayName}`, `provider ${p.name}`, () => run(() => signIn(p)))));
}

/** The linked identities, and a "Link …" button for each provider not linked yet. */
export function renderLinked(list, identities, run) {
  const linked = identities.map((i) => {
    const li = document.createElement('li');
    li.dataset.provider = i.provider;
    li.textContent = `${i.provider}${i.email ? ` (${i.email})` : ''}, linked ${new Date(i.linkedAt).toLocaleString()}`;
    return li;
  });
  $('identities').replaceChildren(...linked);
  const open = list.filter((p) => !identities.some((i) => i.provider === p.name));
  $('link-providers').replaceChildren(...open.map((p) => button(`Link ${p.displayName}`, `link ${p.name}`, () => run(() => link(p)))));
  $('providers-section').hidden = list.length === 0;
}

/**
 * The end of a flow at `/oauth/callback`: a sign-in's `code` is traded and
 * handed to `login` (which also asks for a second factor), a `link_code` is
 * completed by the signed-in account and `showSignedIn` redraws.
 */
export async function finishRedirect(params, login, showSignedIn) {
  const verifier = sessionStorage.getItem(VERIFIER);
  const linking = sessionStorage.getItem(LINKING);
  // Each is good for one flow, whatever its outcome.
  sessionStorage.removeItem(VERIFIER);
  sessionStorage.removeItem(LINKING);
  history.replaceState(null, '', '/');
  const error = params.get('error');
  if (error) {
    const failed = new Error(linking ? 'Linking the provider failed.' : 'Signing in with the provider failed.');
    failed.code = error;
    throw failed;
  }
  if (params.has('link_code')) {
    if (!linking || !(await refresh())) throw new Error('This link was not started here; start it again from the app.');
    const { completeLinkIdentity: identity } = await call(
      'mutation($c: String!) { completeLinkIdentity(code: $c) { provider email } }',
      { c: params.get('link_code') },
    );
    await showSignedIn();
    say(`Linked ${identity.provider}${identity.email ? ` (${identity.email})` : ''}.`);
    return;
  }
  if (!verifier) throw new Error('This sign-in was not started here; start it again from the app.');
  const { exchangeLoginCode } = await api.request(
    `mutation($c: String!, $v: String) { exchangeLoginCode(code: $c, codeVerifier: $v) { ${LOGIN} } }`,
    { c: params.get('code') ?? '', v: verifier },
  );
  await login(exchangeLoginCode);
}
