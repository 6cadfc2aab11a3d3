// The WebAuthn browser helpers (@simplewebauthn/browser's own ES modules, served under /assets/webauthn/).
export { browserSupportsWebAuthn, startAuthentication, startRegistration } from '/assets/webauthn/index.js';
