// Passkeys: signing in with one (a button, and the browser's autofill
// through conditional mediation), adding one, and the list with rename and
// delete. Passkeys need a page on a domain (http://localhost will do), never
// an IP address.
import { $, LOGIN, api, call, run, say, when } from './ui.js';
import { creationOptions, credentialJSON, requestOptions } from './webauthn.js';

const supported = 'PublicKeyCredential' in window && 'credentials' in navigator;
const START_SIGN_IN = 'mutation PasskeySignIn($e: String) { startPasskeySignIn(email: $e) { id options } }';
// Named apart from the button's so that a log (or a test) tells the two apart.
const START_AUTOFILL = 'mutation PasskeyAutofill { startPasskeySignIn { id options } }';
const FINISH_SIGN_IN = `mutation($id: ID!, $c: JSON!) { finishPasskeySignIn(ceremonyId: $id, credential: $c) { ${LOGIN} } }`;

// Sign-ins through autofill that failed on this page. A browser may answer a
// new autofill request at once (Chromium does with virtual authenticators):
// the retries after a failure are few, so that it can never loop.
let autofillFailures = 0;
let onLogin = async () => {};
let reload = async () => {};
// The pending autofill request: a page may have one conditional request at a
// time, and it must end before any other navigator.credentials call.
let autofill = null;

async function finishSignIn(ceremonyId, credential) {
  const { finishPasskeySignIn } = await api.request(FINISH_SIGN_IN, { id: ceremonyId, c: credentialJSON(credential) });
  await onLogin(finishPasskeySignIn);
}

export function stopAutofill() {
  autofill?.abort();
  autofill = null;
}

/**
 * Offers passkeys in the email field's autofill (`autocomplete="username
 * webauthn"`): a conditional request stays pending, without any dialog,
 * until the person picks a passkey there.
 */
export async function startAutofill() {
  stopAutofill();
  const controller = new AbortController();
  autofill = controller;
  if (!supported || !(await PublicKeyCredential.isConditionalMediationAvailable?.()) || controller.signal.aborted) return;
  let ceremony;
  let credential;
  try {
    ({ startPasskeySignIn: ceremony } = await api.request(START_AUTOFILL));
    credential = await navigator.credentials.get({
      mediation: 'conditional',
      publicKey: requestOptions(ceremony.options),
      signal: controller.signal,
    });
  } catch (e) {
    // Autofill is an offer, not a step the person took: nothing to show.
    if (!controller.signal.aborted) console.warn(`passkey autofill is unavailable: ${e.message}`);
    return;
  }
  if (autofill === controller) autofill = null;
  await run(async () => {
    try {
      await finishSignIn(ceremony.id, credential);
    } catch (e) {
      // A ceremony lives five minutes: a pick after that needs a new one.
      autofillFailures += 1;
      if (autofillFailures < 3) startAutofill();
      throw e;
    }
  });
}

// "Sign in with a passkey": without an email any passkey of this site, with one only that account's.
async function signInWithButton() {
  stopAutofill();
  try {
    const email = $('email').value.trim() || null;
    const { startPasskeySignIn: ceremony } = await api.request(START_SIGN_IN, { e: email });
    say('Choose a passkey…');
    const credential = await navigator.credentials.get({ publicKey: requestOptions(ceremony.options) });
    await finishSignIn(ceremony.id, credential);
  } catch (e) {
    startAutofill();
    throw e;
  }
}

async function add() {
  const { startPasskeyRegistration: ceremony } = await call('mutation { startPasskeyRegistration { id options } }');
  say('Follow your browser to make the passkey…');
  const credential = await navigator.credentials.create({ publicKey: creationOptions(ceremony.options) });
  const { finishPasskeyRegistration: passkey } = await call(
    'mutation($id: ID!, $c: JSON!, $n: String) { finishPasskeyRegistration(ceremonyId: $id, credential: $c, name: $n) { name } }',
    { id: ceremony.id, c: credentialJSON(credential), n: $('passkey-name').value.trim() || null },
  );
  $('passkey-name').value = '';
  await reload();
  say(`Passkey “${passkey.name}” added.`);
}

/** The signed-in view's list: `passkeys` as the query returned it. */
export function renderPasskeys(passkeys) {
  $('passkeys-section').hidden = !supported;
  const rows = passkeys.map((p) => {
    const tr = document.createElement('tr');
    tr.dataset.passkey = p.id;
    const name = document.createElement('input');
    name.value = p.name;
    name.className = 'passkey-name';
    name.setAttribute('aria-label', 'Passkey name');
    const about = document.createElement('td');
    about.textContent = `${p.backupEligible ? 'synced' : 'this device only'}, added ${when(p.createdAt)}, last used ${when(p.lastUsedAt)}`;
    const rename = document.createElement('button');
    rename.textContent = 'Rename';
    rename.className = 'rename';
    rename.onclick = () => run(async () => {
      const { renamePasskey } = await call('mutation($id: ID!, $n: String!) { renamePasskey(id: $id, name: $n) { name } }', { id: p.id, n: name.value });
      await reload();
      say(`Passkey renamed to “${renamePasskey.name}”.`);
    });
    const remove = document.createElement('button');
    remove.textContent = 'Delete';
    remove.className = 'delete';
    remove.onclick = () => run(async () => {
      await call('mutation($id: ID!) { deletePasskey(id: $id) }', { id: p.id });
      await reload();
      say(`Passkey “${p.name}” deleted. Remove it from your authenticator too.`);
    });
    const cells = [document.createElement('td'), about, document.createElement('td')];
    cells[0].append(name);
    cells[2].append(rename, remove);
    tr.append(...cells);
    return tr;
  });
  if (!rows.length) {
    const none = document.createElement('tr');
    none.innerHTML = '<td>No passkeys yet.</td>';
    rows.push(none);
  }
  $('passkeys').replaceChildren(...rows);
}

/** Wires the buttons; `login` finishes a sign-in's answer, `refreshView` redraws the signed-in view. */
export function initPasskeys(login, refreshView) {
  onLogin = login;
  reload = refreshView;
  $('passkey-signin').hidden = !supported;
  $('passkey-signin').onclick = () => run(signInWithButton);
  $('add-passkey').onclick = () => run(add);
}
