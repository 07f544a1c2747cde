"""OAuth 2.0 bearer tokens (JWT, ES256/RS256): a small local issuer and a strict validator."""
