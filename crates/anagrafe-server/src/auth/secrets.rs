//! Operators' second-factor secrets encrypted at rest (issue 18, item 7).
//!
//! A TOTP secret lets whoever reads it produce the operator's codes, so a copy of the database
//! must not give it away. Each secret is stored as `enc1:` and the base64 of a random 12-byte
//! nonce followed by its ChaCha20-Poly1305 ciphertext, with the account's name as associated
//! data (a sealed secret copied to another account does not open). The key is a file outside
//! the database (`server.secrets_key_file`; embedded register: `secrets.key` beside the
//! database). A value without the prefix is a secret stored in clear by an earlier version:
//! it is still read, and [`SecretBox::needs_sealing`] tells the start-up sweep to seal it.

use base64::Engine as _;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

const PREFIX: &str = "enc1:";

/// Seals and opens secrets with the register's secrets key.
pub struct SecretBox {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box under a 256-bit key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self { key: LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte key")) }
    }

    /// From a key file: 64 hexadecimal characters.
    pub fn from_key_text(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 32).ok_or("must hold 64 hexadecimal characters (a 256-bit key)")?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        Ok(Self::new(&key))
    }

    /// `plain` sealed for account `owner`.
    pub fn seal(&self, owner: &str, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let mut buf = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(owner.as_bytes()), &mut buf)
            .expect("sealing a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!("{PREFIX}{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(out))
    }

    /// The secret of account `owner` as stored: opened, or as it is when stored in clear;
    /// `None` when it does not open (another key, another account, or changed).
    pub fn open(&self, owner: &str, stored: &str) -> Option<String> {
        let Some(sealed) = stored.strip_prefix(PREFIX) else { return Some(stored.to_owned()) };
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD.decode(sealed).ok().filter(|r| r.len() > NONCE_LEN)?;
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let mut buf = ct.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let plain = self.key.open_in_place(nonce, Aad::from(owner.as_bytes()), &mut buf).ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }

    /// Whether a stored value is in clear (written before secrets were sealed).
    pub fn needs_sealing(stored: &str) -> bool {
        !stored.starts_with(PREFIX)
    }
}

/// Opens a stored secret with the register's box; without a box only a value in clear reads.
pub fn open(secrets: Option<&SecretBox>, owner: &str, stored: &str) -> Option<String> {
    match secrets {
        Some(b) => b.open(owner, stored),
        None => SecretBox::needs_sealing(stored).then(|| stored.to_owned()),
    }
}

/// Seals a secret with the register's box; without one it is stored in clear (the server
/// warns at start).
pub fn seal(secrets: Option<&SecretBox>, owner: &str, plain: &str) -> String {
    match secrets {
        Some(b) => b.seal(owner, plain),
        None => plain.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_for_its_account() {
        let b = SecretBox::new(&[7u8; 32]);
        let sealed = b.seal("mrossi", "JBSWY3DPEHPK3PXP");
        assert!(sealed.starts_with("enc1:") && !sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(sealed, b.seal("mrossi", "JBSWY3DPEHPK3PXP"), "a fresh nonce each time");
        assert_eq!(b.open("mrossi", &sealed).as_deref(), Some("JBSWY3DPEHPK3PXP"));
        assert_eq!(b.open("lbianchi", &sealed), None, "bound to its account");
        assert_eq!(SecretBox::new(&[8u8; 32]).open("mrossi", &sealed), None, "another key");
        let mut changed = sealed.clone();
        changed.pop();
        changed.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(b.open("mrossi", &changed), None);
        assert_eq!(b.open("mrossi", "JBSWY3DPEHPK3PXP").as_deref(), Some("JBSWY3DPEHPK3PXP"), "clear values of old versions");
        assert!(SecretBox::needs_sealing("JBSWY3DPEHPK3PXP") && !SecretBox::needs_sealing(&sealed));
        assert_eq!(open(None, "mrossi", &sealed), None);
        assert!(SecretBox::from_key_text("zz").is_err());
    }
}
