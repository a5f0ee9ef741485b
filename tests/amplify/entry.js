// The real Amplify JS v6 client, as a page script for tests/browser/test_amplify_interop.py.
//
// The page defines `window.AMPLIFY_TEST_CONFIG = {userPoolId, userPoolClientId,
// userPoolEndpoint}` before loading this bundle. Amplify is configured with `{ ssr: true }`, so
// it keeps its tokens in cookies (CookieStorage: Path=/, no Domain, SameSite=Lax, Secure), the
// cookies ssrauth reads and writes on the server.
//
// Everything the tests call lives on `window.amplifyTest`; every function resolves to plain
// JSON, and an error becomes `{error: <name>, message}` instead of a rejected promise.
import { Amplify } from 'aws-amplify';
import {
  fetchAuthSession,
  getCurrentUser,
  signIn,
  signOut,
} from 'aws-amplify/auth';

const config = window.AMPLIFY_TEST_CONFIG;

Amplify.configure(
  {
    Auth: {
      Cognito: {
        userPoolId: config.userPoolId,
        userPoolClientId: config.userPoolClientId,
        userPoolEndpoint: config.userPoolEndpoint,
      },
    },
  },
  { ssr: true },
);

async function plain(action) {
  try {
    return await action();
  } catch (error) {
    return { error: error?.name ?? 'Error', message: String(error?.message ?? error) };
  }
}

window.amplifyTest = {
  ready: true,

  signIn: (username, password) =>
    plain(async () => {
      const { isSignedIn, nextStep } = await signIn({
        username,
        password,
        options: { authFlowType: 'USER_PASSWORD_AUTH' },
      });
      return { isSignedIn, nextStep: nextStep.signInStep };
    }),

  // The raw token strings, or nulls when Amplify has no session.
  fetchAuthSession: (forceRefresh = false) =>
    plain(async () => {
      const { tokens, userSub } = await fetchAuthSession({ forceRefresh });
      return {
        accessToken: tokens?.accessToken?.toString() ?? null,
        idToken: tokens?.idToken?.toString() ?? null,
        userSub: userSub ?? null,
      };
    }),

  getCurrentUser: () =>
    plain(async () => {
      const { username, userId, signInDetails } = await getCurrentUser();
      return { username, userId, signInDetails: signInDetails ?? null };
    }),

  signOut: (global = false) =>
    plain(async () => {
      await signOut({ global });
      return { signedOut: true };
    }),
};
