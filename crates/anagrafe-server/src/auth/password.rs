//! Operator passwords: argon2id hashes in PHC form, computed on a blocking thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};

/// Shortest password accepted.
pub const MIN_LEN: usize = 12;

/// argon2id cost: memory (KiB), iterations, lanes.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for Cost {
    /// OWASP's argon2id minimum: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self { m_kib: 19_456, t: 2, p: 1 }
    }
}

impl Cost {
    /// The lowest cost, for tests only.
    pub const TEST: Cost = Cost { m_kib: 8, t: 1, p: 1 };
}

/// Why a new password is refused, if it is.
pub fn weakness(password: &str, username: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Some(format!("must be at least {MIN_LEN} characters"));
    }
    if chars > 256 {
        return Some("must be at most 256 characters".into());
    }
    if password.to_lowercase().contains(&username.to_lowercase()) {
        return Some("must not contain the username".into());
    }
    None
}

/// The PHC string of `password` under a fresh salt.
pub async fn hash(password: String, cost: Cost) -> Result<String, String> {
    tokio::task::spawn_blocking(move || {
        let params = Params::new(cost.m_kib, cost.t, cost.p, None).map_err(|e| e.to_string())?;
        let salt = SaltString::generate(&mut OsRng);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Whether `password` matches the PHC string (parameters are read from it).
pub async fn verify(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A random temporary password of 20 characters without look-alike characters (an account
/// created or reset by an administrator; changed at the first login).
pub fn temporary() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery".into(), Cost::TEST).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".into(), h.clone()).await);
        assert!(!verify("correct horse batterY".into(), h.clone()).await);
        assert!(!verify("x".into(), "not a hash".into()).await);
        assert_ne!(hash("correct horse battery".into(), Cost::TEST).await.unwrap(), h, "salted");
    }

    #[test]
    fn weak_passwords_are_named() {
        assert!(weakness("short", "anna").is_some());
        assert!(weakness("anna-is-my-password", "anna").is_some());
        assert!(weakness("a long enough pass", "anna").is_none());
    }
}
