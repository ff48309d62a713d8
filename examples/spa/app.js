// The example app: every step a browser app takes with authql in cookie
// mode. The refresh token lives in an HttpOnly cookie (script cannot read
// it); the access token only in memory, so a reload refreshes from the cookie.
import { $, AUTH, LOGIN, api, call, refresh, run, say, when } from './ui.js';
import { initPasskeys, renderPasskeys, startAutofill, stopAutofill } from './passkeys.js';
import { finishRedirect, providers, renderLinked, renderSignIn } from './providers.js';

function showSignedOut() {
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  $('auth-form').hidden = false;
  $('mfa-form').hidden = true;
  startAutofill();
  providers().then((list) => renderSignIn(list, run), (e) => console.warn(`no sign-in providers: ${e.message}`));
}

async function showSignedIn() {
  stopAutofill();
  const { me, sessions, passkeys, oauthProviders } = await call(`{
    me { email mfaEnabled avatarUrl identities { provider email linkedAt } }
    sessions { id current userAgent lastActiveAt }
    passkeys { id name createdAt lastUsedAt backupEligible backedUp }
    oauthProviders { name displayName authorizeUrl }
  }`);
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('me-email').textContent = me.email;
  $('me-mfa').textContent = me.mfaEnabled ? '(two-step verification on)' : '';
  $('avatar').hidden = !me.avatarUrl;
  if (me.avatarUrl) $('avatar').src = me.avatarUrl;
  $('totp-off').hidden = me.mfaEnabled;
  $('totp-on').hidden = !me.mfaEnabled;
  const rows = sessions.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.session = s.id;
    const what = document.createElement('td');
    what.textContent = `${s.current ? 'this browser' : s.userAgent ?? 'unknown device'}, active ${when(s.lastActiveAt)}`;
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
  renderPasskeys(passkeys);
  renderLinked(oauthProviders, me.identities, run);
}

let mfaToken = null;

// What every way of signing in answers: a session, or a second factor to ask for.
async function finishLogin(payload) {
  if (payload.mfaRequired) {
    mfaToken = payload.mfaToken;
    stopAutofill();
    $('signed-out').hidden = false;
    $('auth-form').hidden = true;
    $('mfa-form').hidden = false;
    say('Enter the code from your authenticator app.');
    return;
  }
  api.signedIn(payload.auth);
  await showSignedIn();
  say(`Welcome, ${payload.auth.user.email}.`);
}

$('signup').onclick = () => run(async () => {
  const input = { email: $('email').value, password: $('password').value };
  await api.request('mutation($i: SignupInput!) { signup(input: $i) { confirmationRequired } }', { i: input });
  say('Check your mail: the confirmation link brings you back here.');
});

$('auth-form').onsubmit = (event) => run(async () => {
  event.preventDefault();
  const input = { email: $('email').value, password: $('password').value };
  const { login } = await api.request(`mutation($i: LoginInput!) { login(input: $i) { ${LOGIN} } }`, { i: input });
  await finishLogin(login);
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

initPasskeys(finishLogin, showSignedIn);

// The app's own paths: the confirmation link leads to /confirm-email?token=…,
// a provider's flow ends at /oauth/callback (?code=, ?link_code= or ?error=).
async function start() {
  const params = new URLSearchParams(location.search);
  if (location.pathname === '/confirm-email' && params.get('token')) {
    history.replaceState(null, '', '/');
    await run(async () => {
      await api.request('mutation($t: String!) { confirmEmail(token: $t) }', { t: params.get('token') });
      say('Your email address is confirmed: log in.');
    });
    showSignedOut();
    return;
  }
  if (location.pathname === '/oauth/callback') {
    let shown = false;
    await run(async () => {
      await finishRedirect(params, finishLogin, showSignedIn);
      shown = true;
    });
    if (shown) return;
  }
  // A reload: the access token was only in memory; the cookie brings it back.
  if (await refresh()) {
    await run(showSignedIn);
  } else {
    showSignedOut();
  }
}

start();
