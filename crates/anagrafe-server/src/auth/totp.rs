//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA-1, 6 digits, 30-second
//! steps, the form every authenticator app reads from an `otpauth://` URI.

use hmac::{Hmac, Mac};

/// Length of a step, seconds.
pub const STEP_S: i64 = 30;
/// Steps accepted on either side of the current one (clock drift).
pub const DRIFT_STEPS: i64 = 1;

/// A new random secret of 160 bits, base32 (RFC 4648, no padding).
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::random();
    base32(&bytes)
}

/// The code for `step` under `secret` (raw bytes).
pub fn code_at(secret: &[u8], step: i64) -> u32 {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[off]) & 0x7f) << 24 | u32::from(h[off + 1]) << 16 | u32::from(h[off + 2]) << 8 | u32::from(h[off + 3]);
    bin % 1_000_000
}

/// The step a code given at `now_s` (epoch seconds) was made for, if it is right for any step
/// within the allowed drift. The caller refuses a step not later than the last accepted one.
pub fn verify(secret_b32: &str, code: &str, now_s: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let secret = unbase32(secret_b32)?;
    let now = now_s.div_euclid(STEP_S);
    (now - DRIFT_STEPS..=now + DRIFT_STEPS).find(|&step| code_at(&secret, step) == wanted)
}

/// The current code (for the demo's credentials file and tests).
pub fn current_code(secret_b32: &str, now_s: i64) -> Option<String> {
    Some(format!("{:06}", code_at(&unbase32(secret_b32)?, now_s.div_euclid(STEP_S))))
}

/// The `otpauth://` URI an authenticator app enrols from.
pub fn otpauth_uri(issuer: &str, account: &str, secret_b32: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits=6&period={STEP_S}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buf, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| !matches!(c, b'=' | b' ')) {
        let v = ALPHABET.iter().position(|&a| a == c.to_ascii_uppercase())? as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", 8-digit codes: the last six
        // digits are the 6-digit codes.
        let seed = b"12345678901234567890";
        for (t, eight) in
            [(59i64, 94287082u32), (1111111109, 7081804), (1111111111, 14050471), (1234567890, 89005924), (2000000000, 69279037)]
        {
            assert_eq!(code_at(seed, t / STEP_S), eight % 1_000_000, "t={t}");
        }
    }

    #[test]
    fn base32_round_trips_and_codes_verify_within_drift_only() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        assert_eq!(base32(&unbase32(&secret).unwrap()), secret);
        assert_eq!(base32(b"12345678901234567890"), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let now = 1_800_000_000;
        let code = current_code(&secret, now).unwrap();
        assert_eq!(verify(&secret, &code, now), Some(now / STEP_S));
        assert_eq!(verify(&secret, &code, now + STEP_S), Some(now / STEP_S), "one step late is accepted");
        assert_eq!(verify(&secret, &code, now + 3 * STEP_S), None, "three steps late is not");
        assert_eq!(verify(&secret, "12345", now), None);
        assert_eq!(verify(&secret, "abcdef", now), None);
        assert_eq!(verify("not base32!", &code, now), None);
    }

    #[test]
    fn the_enrolment_uri_names_issuer_account_and_secret() {
        let uri = otpauth_uri("Anagrafe", "anna rossi", "JBSWY3DPEHPK3PXP");
        assert_eq!(uri, "otpauth://totp/Anagrafe:anna%20rossi?secret=JBSWY3DPEHPK3PXP&issuer=Anagrafe&algorithm=SHA1&digits=6&period=30");
    }
}
