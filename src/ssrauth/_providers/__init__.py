"""Identity providers at the edge: Cognito, OpenID Connect, the JWKS fetch, HTTP clients."""
