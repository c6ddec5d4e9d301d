// Package auth owns Tenantra's identity primitives: password hashing and policy, TOTP second
// factors, recovery codes, opaque refresh and API tokens, signed access tokens (JWT) and login
// throttling with growing lockouts (ARCHITECTURE §4).
//
// Everything here is pure: no database, no HTTP and no package-level mutable state. Time is
// always injected (a Now func) so that expiry, rate limits and lockouts are tested by moving a
// clock rather than by sleeping. The appliance wires these primitives to storage and routes.
//
// Errors that a user may see are built with store.Errorf(store.ErrInvalid, ...) and say what to
// do; token and code failures collapse into one sentinel each (ErrTokenInvalid,
// ErrTOTPInvalid, ErrTOTPReplay) so that a response never tells an attacker which check failed.
// No error message ever contains a password, code, secret or token.
package auth
