// A small GraphQL client for authql in cookie mode: JSON over fetch with
// credentials, so the refresh cookie (HttpOnly: script never sees it) rides
// along; the access token lives only in this module's memory.
export class AuthqlClient {
  constructor(url) {
    this.url = url;
    this.accessToken = null;
  }

  headers(json = true) {
    const h = { 'x-authql-token-transport': 'cookie' };
    if (json) h['content-type'] = 'application/json';
    if (this.accessToken) h.authorization = `Bearer ${this.accessToken}`;
    return h;
  }

  async request(query, variables = {}) {
    const resp = await fetch(this.url, {
      method: 'POST',
      credentials: 'include',
      headers: this.headers(),
      body: JSON.stringify({ query, variables }),
    });
    return this.answer(resp);
  }

  // A GraphQL multipart request (one file), as uploads need.
  async upload(query, variable, file) {
    const form = new FormData();
    form.append('operations', JSON.stringify({ query, variables: { [variable]: null } }));
    form.append('map', JSON.stringify({ 0: [`variables.${variable}`] }));
    form.append('0', file, file.name);
    const resp = await fetch(this.url, {
      method: 'POST',
      credentials: 'include',
      headers: { ...this.headers(false), 'apollo-require-preflight': 'true' },
      body: form,
    });
    return this.answer(resp);
  }

  async answer(resp) {
    const body = await resp.json();
    if (body.errors?.length) {
      const e = body.errors[0];
      const error = new Error(e.message);
      error.code = e.extensions?.code;
      throw error;
    }
    return body.data;
  }

  // Keeps the access token of a sign-in answer (the refresh token is in the cookie).
  signedIn(auth) {
    this.accessToken = auth?.accessToken ?? null;
    return auth;
  }
}
