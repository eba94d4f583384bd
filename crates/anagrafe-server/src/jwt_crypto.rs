//! The JWT crypto provider of the process: ES256 signatures made and checked with `ring`
//! (constant-time, assembly-backed P-256, already in the build through rustls), everything else
//! by jsonwebtoken's pure-Rust provider. Every signed request, voucher and tracking evidence is
//! checked here: with the pure-Rust P-256, verification took over half of the server's time
//! under the e-services' load (docs/benchmarks.md).

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, rust_crypto};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, UnparsedPublicKey};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

struct Es256Verifier(UnparsedPublicKey<Vec<u8>>);

impl signature::Verifier<Vec<u8>> for Es256Verifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        self.0.verify(msg, sig).map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for Es256Verifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
}

struct Es256Signer(Arc<EcdsaKeyPair>);

impl signature::Signer<Vec<u8>> for Es256Signer {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        self.0.sign(&ring::rand::SystemRandom::new(), msg).map(|s| s.as_ref().to_vec()).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Es256Signer {
    fn algorithm(&self) -> Algorithm {
        Algorithm::ES256
    }
}

/// Parsed key pairs by their PKCS#8 document (parsing checks the pair, a point multiplication:
/// not to be paid on every signature). Few keys sign in one process.
fn key_pair(pkcs8: &[u8]) -> Option<Arc<EcdsaKeyPair>> {
    static PAIRS: OnceLock<Mutex<HashMap<Vec<u8>, Arc<EcdsaKeyPair>>>> = OnceLock::new();
    let pairs = PAIRS.get_or_init(Default::default);
    if let Some(p) = pairs.lock().unwrap_or_else(|e| e.into_inner()).get(pkcs8) {
        return Some(p.clone());
    }
    let pair = Arc::new(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &ring::rand::SystemRandom::new()).ok()?);
    let mut all = pairs.lock().unwrap_or_else(|e| e.into_inner());
    if all.len() > 64 {
        all.clear();
    }
    all.insert(pkcs8.to_vec(), pair.clone());
    Some(pair)
}

fn new_signer(alg: &Algorithm, key: &EncodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *alg == Algorithm::ES256
        && let Some(pair) = key_pair(key.as_bytes())
    {
        return Ok(Box::new(Es256Signer(pair)));
    }
    // Keys ring does not take (a PKCS#8 document without its public key) and every other
    // algorithm.
    (rust_crypto::DEFAULT_PROVIDER.signer_factory)(alg, key)
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    if *alg == Algorithm::ES256
        && let Ok(point) = key.try_get_as_bytes()
        && point.len() == 65
        && point[0] == 4
    {
        return Ok(Box::new(Es256Verifier(UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point.to_vec()))));
    }
    (rust_crypto::DEFAULT_PROVIDER.verifier_factory)(alg, key)
}

/// Installs the provider once per process (later calls do nothing).
pub fn install() {
    static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();
    let p = PROVIDER.get_or_init(|| CryptoProvider {
        signer_factory: new_signer,
        verifier_factory: new_verifier,
        key_utils: rust_crypto::DEFAULT_PROVIDER.key_utils.clone(),
    });
    let _ = p.install_default();
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};

    #[test]
    fn ring_and_rust_crypto_agree_on_es256() {
        super::install();
        let (private, public) = crate::modi::client::generate_key_pair();
        let claims = serde_json::json!({ "sub": "x", "exp": 4_000_000_000u64 });
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &EncodingKey::from_ec_pem(private.as_bytes()).unwrap()).unwrap();
        let key = DecodingKey::from_ec_pem(public.as_bytes()).unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.required_spec_claims.clear();
        v.validate_aud = false;
        assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &key, &v).is_ok());
        // The pure-Rust provider verifies what ring signed, and a changed signature fails.
        let (head, sig) = token.rsplit_once('.').unwrap();
        let ok = (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory)(&Algorithm::ES256, &key).unwrap();
        let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
        assert!(signature::Verifier::verify(&*ok, head.as_bytes(), &raw).is_ok());
        let mut bad = raw.clone();
        bad[10] ^= 1;
        let ring_v = super::new_verifier(&Algorithm::ES256, &key).unwrap();
        assert!(signature::Verifier::verify(&*ring_v, head.as_bytes(), &bad).is_err());
        assert!(signature::Verifier::verify(&*ring_v, head.as_bytes(), &raw).is_ok());
    }
}
