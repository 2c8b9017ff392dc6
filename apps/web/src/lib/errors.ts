import { ClientError } from '@parley/client';

/** What a person should read when something fails: plain words, no codes, no stack traces. */
export function describeError(err: unknown): string {
  if (!(err instanceof ClientError)) {
    if (err instanceof TypeError) return 'Cannot reach the server. Check your connection and try again.';
    return 'Something went wrong. Please try again.';
  }
  switch (err.code) {
    case 'invalid_credentials':
      return 'Wrong username or password.';
    case 'username_taken':
      return 'That username is taken. Try another one.';
    case 'invalid_username':
      return err.message ? `That username cannot be used: ${err.message}.` : 'That username cannot be used.';
    case 'weak_password':
      return 'Choose a longer password: at least 10 characters.';
    case 'unknown_user':
      return 'User not found. Check the spelling of the username.';
    case 'rate_limited':
      return 'Too many attempts. Wait a moment and try again.';
    case 'disconnected':
    case 'network':
    case 'unavailable':
    case 'overloaded':
      return 'You are offline or the server is unreachable. Try again when you are back online.';
    case 'payload_too_large':
      return 'That file is too large for this server.';
    case 'no_key_packages':
      return 'That person cannot be added right now: none of their devices is ready. Ask them to open Parley.';
    case 'not_member':
    case 'not_active':
      return 'You are no longer a member of this conversation.';
    case 'device_revoked':
    case 'unauthenticated':
      return 'This device was signed out. Sign in again.';
    case 'link_expired':
      return 'The code expired before it was approved. Sign in again to get a new one.';
    case 'link_rejected':
      return 'Linking was rejected on your other device. Nothing was added to your account.';
    case 'link_not_found':
      return 'No device is waiting with that code. Check the code, or get a new one on the new device (codes last 10 minutes).';
    case 'link_key_mismatch':
      return 'The server’s key for that device does not match the QR code. Do not approve it; try again on a network you trust.';
    case 'device_pending':
      return 'This device is waiting for approval from one of your other devices.';
    case 'safety_number_changed':
      return 'A safety number changed. Verify it, or confirm to send anyway.';
    case 'quota_exceeded':
      return err.detail?.['quota'] === 'blob_bytes'
        ? 'Your account has reached its storage limit for files. Files expire after a while; try again later.'
        : 'Too much of what you sent has not been delivered yet. Wait until the other devices catch up, then try again.';
    case 'blob_gone':
      return 'The server no longer has this file and it was not kept on this device. Ask the sender to send it again.';
    case 'too_large':
      return 'That is too large to send (voice messages: up to 16 MB and 30 minutes).';
    case 'contact_mismatch':
      return 'That code does not belong to the account with that username. Do not add it; ask them to show their code again.';
    case 'too_many_connections':
      return 'Parley is open in too many places at once. Close it in other tabs or devices and try again.';
    default:
      return 'Something went wrong. Please try again.';
  }
}

export function errorCode(err: unknown): string | undefined {
  return err instanceof ClientError ? err.code : undefined;
}
