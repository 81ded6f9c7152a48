// An independent private_key_jwt client: oauth4webapi discovers m2m's
// metadata over HTTPS (the test CA comes in NODE_EXTRA_CA_CERTS), signs a
// client assertion with its PrivateKeyJwt client authentication, and runs
// the client credentials grant. It prints one JSON line: the token
// response, or {"error": CODE} when the server refuses.
//
// Environment: M2M_ISSUER, M2M_CLIENT_ID, M2M_KEY_PEM (PKCS #8), M2M_KID,
// M2M_AUDIENCE, M2M_SCOPE.
import * as oauth from 'oauth4webapi';
import * as jose from 'jose';

const env = process.env;
const issuer = new URL(env.M2M_ISSUER);
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2' }));
const client = { client_id: env.M2M_CLIENT_ID };
const key = await jose.importPKCS8(env.M2M_KEY_PEM, 'ES256');
const auth = oauth.PrivateKeyJwt({ key, kid: env.M2M_KID });
const params = new URLSearchParams({ audience: env.M2M_AUDIENCE, scope: env.M2M_SCOPE });
try {
  const response = await oauth.clientCredentialsGrantRequest(as, client, auth, params);
  const result = await oauth.processClientCredentialsResponse(as, client, response);
  console.log(JSON.stringify(result));
} catch (e) {
  if (e instanceof oauth.ResponseBodyError) {
    console.log(JSON.stringify({ error: e.error, status: e.status }));
  } else {
    throw e;
  }
}
