// A full account flow driven by graphql-request, an established GraphQL client.
import { ClientError, GraphQLClient, gql } from 'graphql-request';
import { PASSWORD, URL, mailedLink } from './common.mjs';

const email = 'client@example.com';
const client = new GraphQLClient(`${URL}/graphql`);

const { signup } = await client.request(gql`
  mutation Signup($input: SignupInput!) { signup(input: $input) { confirmationRequired } }
`, { input: { email, password: PASSWORD } });
if (!signup.confirmationRequired) throw new Error('confirmation expected');

// Opening the link only shows a button; pressing it POSTs.
const confirmed = await fetch(await mailedLink(email), { method: 'POST' });
if (confirmed.status !== 200) throw new Error(`confirmation link answered ${confirmed.status}`);

const { login } = await client.request(gql`
  mutation Login($email: String!, $password: String!) {
    login(input: { email: $email, password: $password }) { auth { accessToken refreshToken user { email } } }
  }
`, { email, password: PASSWORD });
const authed = (token) => new GraphQLClient(`${URL}/graphql`, { headers: { authorization: `Bearer ${token}` } });

const { me } = await authed(login.auth.accessToken).request(gql`{ me { email emailVerified } }`);
if (me.email !== email || !me.emailVerified) throw new Error(`me: ${JSON.stringify(me)}`);

const { refreshToken } = await client.request(gql`
  mutation Refresh($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }
`, { t: login.auth.refreshToken });
if (refreshToken.refreshToken === login.auth.refreshToken) throw new Error('refresh did not rotate');

const session = authed(refreshToken.accessToken);
const { logout } = await session.request(gql`mutation { logout }`);
if (!logout) throw new Error('logout returned false');
try {
  await session.request(gql`{ me { email } }`);
  throw new Error('the token still works after logout');
} catch (e) {
  if (!(e instanceof ClientError) || e.response.errors[0].extensions.code !== 'UNAUTHENTICATED') throw e;
}
console.log('signup, confirm, login, me, refresh, logout: all through graphql-request');
