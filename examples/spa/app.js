// The example app: every step a browser app takes with authql in cookie
// mode. The refresh token lives in an HttpOnly cookie (script cannot read
// it); the access token only in memory, so a reload refreshes from the cookie.
import { AuthqlClient } from './gql.js';

const api = new AuthqlClient(`${window.AUTHQL_URL}/graphql`);
const $ = (id) => document.getElementById(id);
const AUTH = 'accessToken user { email }';

function say(text, error = false) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

// Runs an operation as the signed-in user; an expired access token is refreshed once.
async function call(query, variables) {
  try {
    return await api.request(query, variables);
  } catch (e) {
    if (e.code !== 'UNAUTHENTICATED' || !(await refresh())) throw e;
    return api.request(query, variables);
  }
}

async function refresh() {
  try {
    const { refreshToken } = await api.request(`mutation { refreshToken { ${AUTH} } }`);
    api.signedIn(refreshToken);
    return true;
  } catch {
    api.signedIn(null);
    return false;
  }
}

function showSignedOut() {
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  $('auth-form').hidden = false;
  $('mfa-form').hidden = true;
}

async function showSignedIn() {
  const { me, sessions } = await call(`{
    me { email mfaEnabled avatarUrl }
    sessions { id current userAgent lastActiveAt }
  }`);
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('me-email').textContent = me.email;
  $('me-mfa').textContent = me.mfaEnabled ? '(two-step verification on)' : '';
  $('avatar').src = me.avatarUrl ?? '';
  $('totp-off').hidden = me.mfaEnabled;
  $('totp-on').hidden = !me.mfaEnabled;
  const rows = sessions.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.session = s.id;
    const what = document.createElement('td');
    what.textContent = `${s.current ? 'this browser' : s.userAgent ?? 'unknown device'}, active ${new Date(s.lastActiveAt).toLocaleString()}`;
    const action = document.createElement('td');
    if (!s.current) {
      const revoke = document.createElement('button');
      revoke.textContent = 'Revoke';
      revoke.className = 'revoke';
      revoke.onclick = () => run(async () => {
        await call('mutation($id: ID!) { revokeSession(id: $id) }', { id: s.id });
        await showSignedIn();
        say('Session revoked.');
      });
      action.append(revoke);
    }
    tr.append(what, action);
    return tr;
  });
  $('sessions').replaceChildren(...rows);
}

// Shows what went wrong instead of failing silently.
async function run(step) {
  try {
    await step();
  } catch (e) {
    say(`${e.message}${e.code ? ` (${e.code})` : ''}`, true);
  }
}

let mfaToken = null;

$('signup').onclick = () => run(async () => {
  const input = { email: $('email').value, password: $('password').value };
  await api.request('mutation($i: SignupInput!) { signup(input: $i) { confirmationRequired } }', { i: input });
  say('Check your mail: the confirmation link brings you back here.');
});

$('auth-form').onsubmit = (event) => run(async () => {
  event.preventDefault();
  const input = { email: $('email').value, password: $('password').value };
  const { login } = await api.request(
    `mutation($i: LoginInput!) { login(input: $i) { mfaRequired mfaToken auth { ${AUTH} } } }`, { i: input });
  if (login.mfaRequired) {
    mfaToken = login.mfaToken;
    $('auth-form').hidden = true;
    $('mfa-form').hidden = false;
    say('Enter the code from your authenticator app.');
    return;
  }
  api.signedIn(login.auth);
  await showSignedIn();
  say(`Welcome, ${login.auth.user.email}.`);
});

$('mfa-form').onsubmit = (event) => run(async () => {
  event.preventDefault();
  const input = { mfaToken, code: $('mfa-code').value, method: 'TOTP' };
  const { verifyMfa } = await api.request(`mutation($i: VerifyMfaInput!) { verifyMfa(input: $i) { ${AUTH} } }`, { i: input });
  api.signedIn(verifyMfa);
  await showSignedIn();
  say(`Welcome, ${verifyMfa.user.email}.`);
});

$('logout').onclick = () => run(async () => {
  await call('mutation { logout }');
  api.signedIn(null);
  showSignedOut();
  say('Logged out.');
});

$('upload').onclick = () => run(async () => {
  const file = $('avatar-file').files[0];
  if (!file) throw new Error('choose an image first');
  await api.upload('mutation($f: Upload!) { uploadAvatar(file: $f) { avatarUrl } }', 'f', file);
  await showSignedIn();
  say('Avatar updated.');
});

$('setup-totp').onclick = () => run(async () => {
  const { setupMfa } = await call('mutation { setupMfa { secret otpauthUri qrCodePng } }');
  $('totp-secret').textContent = setupMfa.secret;
  $('totp-qr').src = setupMfa.qrCodePng;
  $('totp-setup').hidden = false;
});

$('totp-form').onsubmit = (event) => run(async () => {
  event.preventDefault();
  const { enableMfa } = await call('mutation($c: String!) { enableMfa(code: $c) { codes } }', { c: $('totp-code').value });
  $('recovery-codes').textContent = enableMfa.codes.join(' ');
  await showSignedIn();
  say('Two-step verification is on.');
});

// The confirmation link leads here (FRONTEND_URL/confirm-email?token=...).
async function start() {
  const params = new URLSearchParams(location.search);
  if (location.pathname.endsWith('/confirm-email') && params.get('token')) {
    history.replaceState(null, '', '/');
    await run(async () => {
      await api.request('mutation($t: String!) { confirmEmail(token: $t) }', { t: params.get('token') });
      say('Your email address is confirmed: log in.');
    });
    showSignedOut();
    return;
  }
  // A reload: the access token was only in memory; the cookie brings it back.
  if (await refresh()) {
    await run(showSignedIn);
  } else {
    showSignedOut();
  }
}

start();
