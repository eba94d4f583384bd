//! Signed checkpoints of the trace (SEC-4, issue 18 item 1).
//!
//! The hash chain ([`crate::audit`]) shows that entries were changed, but whoever can write the
//! database can also recompute every hash after a change, or delete the tail and wind the head
//! back. A checkpoint closes that door: the register signs `(seq, hash, at_ms)` of the chain's
//! head with its own key (ECDSA P-256 with SHA-256, the key whose public part `/api/register-key`
//! and `/.well-known/anagrafe/register-key.pem` serve), and keeps the checkpoint in three places:
//! the `audit_checkpoints` table, an append-only file outside the database, and, when configured,
//! an external witness. A rewrite then needs the key *and* every copy of every checkpoint.
//!
//! The signed message is the ASCII text
//! `anagrafe-trace-checkpoint/2\n{seq}\n{hash}\n{at_ms}\n{id_high_water}\n` (decimal integers,
//! the hash as 64 lower-case hex digits), or, for a checkpoint that carries no ID high-water mark
//! (those signed before marks were signed too, and registers that issue no IDs),
//! `anagrafe-trace-checkpoint/1\n{seq}\n{hash}\n{at_ms}\n`; the signature is the 64-byte `r ‖ s`
//! in lower-case hex. The mark in a checkpoint is a third copy of the ID generator's high-water
//! mark (IDN-2), beside the key and in the backup manifest, that a rewrite of the database
//! cannot lower.
//! `docs/trace.md` gives the whole algorithm for an outside auditor.

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// What the register signs about its trace at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Sequence number of the last entry covered.
    pub seq: i64,
    /// That entry's hash.
    pub hash: String,
    /// When the checkpoint was signed (epoch ms).
    pub at_ms: i64,
    /// Which key signed: the first 16 hex digits of SHA-256 over the public key (SPKI DER).
    pub key_id: String,
    /// ECDSA P-256 / SHA-256 signature over [`message`], `r ‖ s` in hex.
    pub signature: String,
    /// The ID generator's high-water mark when the checkpoint was signed: every counter issued
    /// up to then is below it ([`crate::IdHighWater`]). Absent in checkpoints of registers that
    /// keep no mark, and in those signed before marks were signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_high_water: Option<i64>,
}

impl Checkpoint {
    /// The bytes this checkpoint's signature covers.
    pub fn message(&self) -> Vec<u8> {
        message(self.seq, &self.hash, self.at_ms, self.id_high_water)
    }
}

/// The bytes a checkpoint's signature covers: version 2 with the ID high-water mark, version 1
/// without.
pub fn message(seq: i64, hash: &str, at_ms: i64, id_high_water: Option<i64>) -> Vec<u8> {
    match id_high_water {
        Some(mark) => format!("anagrafe-trace-checkpoint/2\n{seq}\n{hash}\n{at_ms}\n{mark}\n").into_bytes(),
        None => format!("anagrafe-trace-checkpoint/1\n{seq}\n{hash}\n{at_ms}\n").into_bytes(),
    }
}

fn key_id(key: &VerifyingKey) -> String {
    let der = key.to_public_key_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
    hex::encode(&Sha256::digest(der)[..8])
}

/// Why a key could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Signs checkpoints with the register's private key.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// From the register's signing key, a PKCS#8 PEM P-256 private key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyError(format!("the register's key is not a PKCS#8 P-256 PEM: {e}")))?;
        let key_id = key_id(key.verifying_key());
        Ok(Self { key, key_id })
    }

    /// Signs the head `(seq, hash)` at `at_ms`, with the ID high-water mark when there is one.
    pub fn sign(&self, seq: i64, hash: &str, at_ms: i64, id_high_water: Option<i64>) -> Checkpoint {
        let sig: Signature = self.key.sign(&message(seq, hash, at_ms, id_high_water));
        Checkpoint { seq, hash: hash.to_owned(), at_ms, key_id: self.key_id.clone(), signature: hex::encode(sig.to_bytes()), id_high_water }
    }

    /// The key that verifies this signer's checkpoints.
    pub fn public_key(&self) -> CheckpointKey {
        CheckpointKey { key: *self.key.verifying_key(), key_id: self.key_id.clone() }
    }
}

/// The register's public key, that checks checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointKey {
    key: VerifyingKey,
    key_id: String,
}

impl CheckpointKey {
    /// From an SPKI PEM public key (`/api/register-key`), or from the private key's PEM.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = match VerifyingKey::from_public_key_pem(pem) {
            Ok(k) => k,
            Err(_) => *CheckpointSigner::from_pem(pem)
                .map_err(|_| KeyError("the key is neither a P-256 public key (SPKI PEM) nor a PKCS#8 P-256 private key".into()))?
                .key
                .verifying_key(),
        };
        let key_id = key_id(&key);
        Ok(Self { key, key_id })
    }

    /// The key's id, as checkpoints name it.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key as SPKI PEM.
    pub fn to_pem(&self) -> String {
        self.key.to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }

    /// Whether `c` was signed by this key, over exactly its `(seq, hash, at_ms)` and its ID
    /// high-water mark (a mark added to, removed from or changed in a checkpoint fails).
    pub fn verifies(&self, c: &Checkpoint) -> bool {
        let Some(sig) = hex::decode(&c.signature).ok().and_then(|b| Signature::from_slice(&b).ok()) else { return false };
        c.key_id == self.key_id && self.key.verify(&c.message(), &sig).is_ok()
    }
}

/// The append-only file of checkpoints kept outside the database: one JSON object per line.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    path: PathBuf,
}

impl CheckpointFile {
    /// The file at `path` (created on the first append).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `c` and waits until it is on disk. The file is opened for appending only and
    /// created readable by its owner alone.
    pub fn append(&self, c: &Checkpoint) -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&self.path)?;
        let mut line = serde_json::to_vec(c).map_err(std::io::Error::other)?;
        line.push(b'\n');
        f.write_all(&line)?;
        f.sync_data()
    }

    /// Every checkpoint in the file, oldest first; no file is no checkpoint. A line that does
    /// not parse is an error naming it (a damaged file is a finding, not something to skip).
    pub fn read_all(&self) -> std::io::Result<Vec<Checkpoint>> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let c = serde_json::from_str(&line).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} line {}: not a checkpoint ({e})", self.path.display(), n + 1),
                )
            })?;
            out.push(c);
        }
        Ok(out)
    }
}

/// What checking a set of checkpoints' signatures found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Screened {
    /// Checkpoints signed by the key, by sequence number (one per distinct `(seq, hash)`).
    #[serde(skip)]
    pub good: Vec<Checkpoint>,
    /// Checkpoints whose signature does not verify with the key: `(seq, where it was found)`.
    pub forged: Vec<(i64, String)>,
}

/// Keeps the checkpoints that `key` signed, from every source (`(name, checkpoints)`), without
/// repeats; the others are listed as forged with the source that held them.
pub fn screen(key: &CheckpointKey, sources: &[(&str, &[Checkpoint])]) -> Screened {
    let mut s = Screened::default();
    for (name, list) in sources {
        for c in *list {
            if !key.verifies(c) {
                s.forged.push((c.seq, (*name).to_owned()));
            } else if !s.good.contains(c) {
                s.good.push(c.clone());
            }
        }
    }
    s.good.sort_by_key(|c| (c.seq, c.at_ms));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> CheckpointSigner {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        use p256::pkcs8::EncodePrivateKey;
        let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
        CheckpointSigner::from_pem(&pem).unwrap()
    }

    #[test]
    fn a_checkpoint_verifies_only_with_its_key_and_its_values() {
        let s = signer();
        let c = s.sign(42, &"ab".repeat(32), 1_700_000_000_000, Some(20_000));
        let key = CheckpointKey::from_pem(&s.public_key().to_pem()).unwrap();
        assert!(key.verifies(&c));
        for altered in [
            Checkpoint { seq: 43, ..c.clone() },
            Checkpoint { hash: "cd".repeat(32), ..c.clone() },
            Checkpoint { at_ms: c.at_ms + 1, ..c.clone() },
            Checkpoint { signature: "00".repeat(64), ..c.clone() },
            // The mark lowered, or dropped to pass the checkpoint off as one of version 1.
            Checkpoint { id_high_water: Some(10_000), ..c.clone() },
            Checkpoint { id_high_water: None, ..c.clone() },
        ] {
            assert!(!key.verifies(&altered));
        }
        // A checkpoint without a mark (version 1) verifies as such, and cannot gain one.
        let v1 = s.sign(42, &c.hash, c.at_ms, None);
        assert!(key.verifies(&v1));
        assert!(!key.verifies(&Checkpoint { id_high_water: Some(20_000), ..v1.clone() }));
        assert!(!serde_json::to_string(&v1).unwrap().contains("id_high_water"));
        let back: Checkpoint = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let other = signer();
        let forged = Checkpoint { key_id: key.key_id().to_owned(), ..other.sign(42, &c.hash, c.at_ms, Some(20_000)) };
        assert!(!key.verifies(&forged));
        let screened = screen(&key, &[("db", &[c.clone(), forged]), ("file", std::slice::from_ref(&c))]);
        assert_eq!(screened.good, vec![c]);
        assert_eq!(screened.forged, vec![(42, "db".to_owned())]);
    }

    #[test]
    fn the_file_keeps_every_checkpoint_appended() {
        let dir = tempfile::tempdir().unwrap();
        let f = CheckpointFile::new(dir.path().join("trace-checkpoints.jsonl"));
        assert!(f.read_all().unwrap().is_empty());
        let s = signer();
        let a = s.sign(1, &"aa".repeat(32), 1, None);
        let b = s.sign(2, &"bb".repeat(32), 2, Some(10_000));
        f.append(&a).unwrap();
        f.append(&b).unwrap();
        assert_eq!(f.read_all().unwrap(), vec![a, b]);
        std::fs::write(f.path(), "{not json\n").unwrap();
        assert!(f.read_all().unwrap_err().to_string().contains("line 1"));
    }
}
