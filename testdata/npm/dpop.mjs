// An independent DPoP client (oauth4webapi) against m2m: it discovers the
// token server, gets a DPoP-bound token with the client credentials grant
// (retrying once when the server asks for a nonce), calls the API with it,
// then sends the requests a thief or a broken client would and reports
// each answer. Driven by internal/e2e/dpop_npm_test.go; it prints one JSON
// object on stdout.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, AUDIENCE, API (the base
// URL of examples/api, run with -dpop-nonce), REPLICA (optional: the base
// URL of another API replica, for a proof the test replays across them).
import * as oauth from 'oauth4webapi'

const env = (name) => {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v
}
const issuer = new URL(env('ISSUER'))
const api = env('API')
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer))
const client = { client_id: env('CLIENT_ID') }
const clientAuth = oauth.ClientSecretPost(env('CLIENT_SECRET'))
const keyPair = await oauth.generateKeyPair('ES256')
const DPoP = oauth.DPoP(client, keyPair)

// retryNonce runs fn again once when the server asked for a DPoP nonce
// (the handle has kept the DPoP-Nonce it sent).
async function retryNonce(fn) {
  try {
    return await fn()
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err
    return await fn()
  }
}

let tokenNonceRetry = false
const token = await retryNonce(async () => {
  const resp = await oauth.clientCredentialsGrantRequest(as, client, clientAuth,
    { audience: env('AUDIENCE'), scope: 'read' }, { DPoP })
  try {
    return await oauth.processClientCredentialsResponse(as, client, resp)
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) tokenNonceRetry = true
    throw err
  }
})

const out = { token_type: token.token_type, token_nonce_retry: tokenNonceRetry, cases: {} }

let apiNonceRetry = false
const hello = await retryNonce(async () => {
  try {
    return await oauth.protectedResourceRequest(token.access_token, 'GET', new URL(api + '/hello'), undefined, undefined, { DPoP })
  } catch (err) {
    if (oauth.isDPoPNonceError(err)) apiNonceRetry = true
    throw err
  }
})
out.hello = { status: hello.status, body: await hello.json(), api_nonce_retry: apiNonceRetry }

// capture returns the Authorization and DPoP headers oauth4webapi would
// send for method and url with handle, without sending them.
async function capture(method, url, handle = DPoP, accessToken = token.access_token) {
  let headers
  await oauth.protectedResourceRequest(accessToken, method, new URL(url), undefined, undefined, {
    DPoP: handle,
    [oauth.customFetch]: async (_url, init) => {
      headers = new Headers(init.headers)
      return new Response(null, { status: 204 })
    },
  })
  return { authorization: headers.get('authorization'), dpop: headers.get('dpop') }
}

async function send(name, method, url, headers) {
  const h = {}
  if (headers.authorization) h.authorization = headers.authorization
  if (headers.dpop) h.dpop = headers.dpop
  const resp = await fetch(url, { method, headers: h })
  out.cases[name] = {
    status: resp.status,
    www_authenticate: resp.headers.get('www-authenticate'),
    dpop_nonce: resp.headers.get('dpop-nonce'),
    error: (await resp.json().catch(() => ({}))).error,
  }
}

// A proof used once is refused the second time.
const once = await capture('GET', api + '/hello')
await send('first use', 'GET', api + '/hello', once)
await send('replayed proof', 'GET', api + '/hello', once)
// A proof made for another URL, another method, by another key.
await send('proof for another URL', 'GET', api + '/hello', await capture('GET', api + '/other'))
await send('proof for another method', 'GET', api + '/hello', await capture('POST', api + '/hello'))
const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))
await send('proof from another key', 'GET', api + '/hello', await capture('GET', api + '/hello', thief))
// The token without its proof: as Bearer, and as DPoP.
await send('stolen token as Bearer', 'GET', api + '/hello', { authorization: 'Bearer ' + token.access_token })
await send('DPoP token without proof', 'GET', api + '/hello', { authorization: 'DPoP ' + token.access_token })
// A nonce the API did not issue, or no longer accepts: a handle whose
// cache a fake answer filled with a made-up nonce.
const stale = oauth.DPoP(client, keyPair)
await oauth.protectedResourceRequest(token.access_token, 'GET', new URL(api + '/hello'), undefined, undefined, {
  DPoP: stale,
  [oauth.customFetch]: async () => new Response(null, { status: 204, headers: { 'dpop-nonce': 'eyJzdGFsZSI6dHJ1ZX0' } }),
})
await send('stale nonce', 'GET', api + '/hello', await capture('GET', api + '/hello', stale))

if (process.env.REPLICA) {
  out.replica = await capture('GET', process.env.REPLICA + '/hello')
}
process.stdout.write(JSON.stringify(out))
