//! The ID ANPR generator (IDN-1, IDN-2): a secret-keyed permutation of a counter.
//!
//! The register keeps a counter; the *n*-th ID it issues is `from_index(π_K(n))`, where `π_K` is
//! a permutation of `[0, N)` (N = 1 757 600 000, every ID the format allows) under a 128-bit
//! secret key `K`. `π_K` is NIST SP 800-38G **FF1** with AES-128 over 31-bit binary strings
//! (2³¹ is the smallest power of two above N), restricted to `[0, N)` by cycle-walking
//! (re-encrypt while the result is ≥ N; 1.22 encryptions on average). So:
//!
//! - the same counter never yields two IDs and two counters never yield the same ID (a
//!   permutation), with no state beyond the counter;
//! - IDs carry nothing of the person and show no sequence: without the key, consecutive IDs are
//!   indistinguishable from random picks (FF1 is a pseudorandom permutation);
//! - knowing IDs reveals neither the key nor how many were issued.
//!
//! The key never leaves the register's secret store; see `docs/id-anpr.md`.

use crate::id_anpr::IdAnpr;
use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};

/// FF1 tweak: binds the permutation to its purpose (a key reused elsewhere gives other IDs).
const TWEAK: &[u8] = b"ANPR-ID";
/// Length of the binary strings FF1 permutes.
const BITS: u32 = 31;
/// Length of the left half (`u = ⌊n/2⌋`); the right half has `v = n − u` bits.
const U: u32 = BITS / 2;
const V: u32 = BITS - U;

/// The keyed permutation behind the ID ANPR.
#[derive(Clone)]
pub struct IdGenerator {
    aes: Aes128,
    /// `CIPH_K(P)`: the first CBC-MAC block is the same for every round and input.
    p_mac: [u8; 16],
}

impl std::fmt::Debug for IdGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdGenerator { key: <redacted> }")
    }
}

impl IdGenerator {
    /// A generator under a 128-bit key.
    pub fn new(key: &[u8; 16]) -> Self {
        let aes = Aes128::new(&Array::from(*key));
        // P = [1]¹ [2]¹ [1]¹ [radix]³ [10]¹ [u mod 256]¹ [n]⁴ [t]⁴ with radix 2, n 31, u 15.
        let mut p = [0u8; 16];
        p[0] = 1;
        p[1] = 2;
        p[2] = 1;
        p[3..6].copy_from_slice(&[0, 0, 2]);
        p[6] = 10;
        p[7] = U as u8;
        p[8..12].copy_from_slice(&BITS.to_be_bytes());
        p[12..16].copy_from_slice(&(TWEAK.len() as u32).to_be_bytes());
        let mut block = Array::from(p);
        aes.encrypt_block(&mut block);
        Self { aes, p_mac: block.into() }
    }

    /// FF1 encryption of a 31-bit string (most significant bit first), radix 2. `x` must be
    /// below 2³¹.
    pub fn ff1(&self, x: u32) -> u32 {
        debug_assert!(x < 1 << BITS);
        let (mut a, mut b) = (x >> V, x & ((1 << V) - 1));
        // Q = T ‖ [0]^((−t−b−1) mod 16) ‖ [i]¹ ‖ [NUM(B)]^b, with b = ⌈v/8⌉ = 2 bytes: one block.
        let mut q = [0u8; 16];
        q[..TWEAK.len()].copy_from_slice(TWEAK);
        for i in 0u8..10 {
            q[13] = i;
            q[14..16].copy_from_slice(&(b as u16).to_be_bytes());
            let mut block = [0u8; 16];
            for (o, (p, q)) in block.iter_mut().zip(self.p_mac.iter().zip(q.iter())) {
                *o = p ^ q;
            }
            let mut r = Array::from(block);
            self.aes.encrypt_block(&mut r);
            // S = first d = 8 bytes of R; y = NUM(S); c = (NUM(A) + y) mod 2^m, m = u or v.
            let y = u64::from_be_bytes(r[..8].try_into().expect("eight bytes"));
            let m = if i % 2 == 0 { U } else { V };
            let c = (u64::from(a).wrapping_add(y) & ((1u64 << m) - 1)) as u32;
            a = b;
            b = c;
        }
        (a << V) | b
    }

    /// The permutation of `[0, N)`: FF1 with cycle-walking. `n` must be below [`IdAnpr::SPACE`].
    pub fn permute(&self, n: u64) -> Option<u64> {
        if n >= IdAnpr::SPACE {
            return None;
        }
        let mut y = n as u32; // N < 2^31
        loop {
            y = self.ff1(y);
            if u64::from(y) < IdAnpr::SPACE {
                return Some(u64::from(y));
            }
        }
    }

    /// The ID of counter value `n` (`None` past the format's capacity).
    pub fn id(&self, n: u64) -> Option<IdAnpr> {
        self.permute(n).and_then(IdAnpr::from_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn generator(seed: u8) -> IdGenerator {
        IdGenerator::new(&[seed; 16])
    }

    #[test]
    fn ff1_agrees_with_an_independent_implementation() {
        // The `fpe` crate implements FF1 generically over numeral strings.
        use fpe::ff1::{FF1, FlexibleNumeralString};
        for seed in [0u8, 7, 200] {
            let key = [seed; 16];
            let reference = FF1::<aes::Aes128>::new(&key, 2).unwrap();
            let mine = IdGenerator::new(&key);
            for x in [0u32, 1, 0x5ead_beef, 0x4000_0000, (1 << 31) - 1, 123_456_789] {
                let numerals: Vec<u16> = (0..BITS).map(|j| ((x >> (BITS - 1 - j)) & 1) as u16).collect();
                let ct: Vec<u16> = reference.encrypt(TWEAK, &FlexibleNumeralString::from(numerals)).unwrap().into();
                let expected = ct.iter().fold(0u32, |acc, &bit| (acc << 1) | u32::from(bit));
                assert_eq!(mine.ff1(x), expected, "key {seed}, x {x:#x}");
            }
        }
    }

    #[test]
    fn a_hundred_thousand_ids_are_distinct_and_valid() {
        let g = generator(1);
        let mut seen = HashSet::new();
        for n in 0..100_000u64 {
            let id = g.id(n).unwrap();
            assert!(IdAnpr::parse(id.as_str()).is_ok());
            assert!(seen.insert(id), "{id} issued twice");
        }
    }

    #[test]
    fn consecutive_counters_give_unrelated_ids() {
        let g = generator(2);
        let ids: Vec<u64> = (0..50_000u64).map(|n| g.permute(n).unwrap()).collect();
        // Same leading letters for consecutive IDs: about 1 in 676 by chance.
        let same_prefix = ids.windows(2).filter(|w| w[0] / (100_000 * 26) == w[1] / (100_000 * 26)).count();
        assert!(same_prefix < 200, "{same_prefix} consecutive pairs share the letters");
        // No trend: the rank correlation between counter and index is near zero.
        let n = ids.len() as f64;
        let mean = ids.iter().map(|&x| x as f64).sum::<f64>() / n;
        let cov: f64 = ids.iter().enumerate().map(|(i, &x)| (i as f64 - (n - 1.0) / 2.0) * (x as f64 - mean)).sum::<f64>();
        let sd_i = ((n * n - 1.0) / 12.0).sqrt() * n.sqrt();
        let sd_x = ids.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>().sqrt();
        let r = cov / (sd_i * sd_x);
        assert!(r.abs() < 0.03, "correlation {r}");
    }

    #[test]
    fn every_character_position_is_uniform() {
        // Chi-square of each position against the uniform distribution of its alphabet.
        let g = generator(3);
        let samples = 60_000;
        let mut counts = vec![[0u32; 36]; 9];
        for n in 0..samples {
            for (pos, c) in g.id(n).unwrap().as_str().bytes().enumerate() {
                let v = if c.is_ascii_digit() { c - b'0' } else { c - b'A' + 10 } as usize;
                counts[pos][v] += 1;
            }
        }
        for (pos, alphabet) in [(0, 26), (1, 26), (2, 10), (3, 10), (4, 10), (5, 10), (6, 10), (7, 26), (8, 36)] {
            let used: Vec<u32> = counts[pos].iter().copied().filter(|&c| c > 0).collect();
            assert_eq!(used.len(), alphabet, "position {pos} uses {} symbols", used.len());
            let expected = samples as f64 / alphabet as f64;
            let chi2: f64 = used.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
            // 99.9th percentile of chi-square with 35 degrees of freedom is about 66.6.
            assert!(chi2 < 70.0, "position {pos}: chi2 {chi2:.1}");
        }
    }

    #[test]
    fn different_keys_give_different_sequences() {
        let (a, b) = (generator(4), generator(5));
        let same = (0..1000u64).filter(|&n| a.id(n) == b.id(n)).count();
        assert!(same < 3);
        assert!(format!("{a:?}").contains("redacted"));
    }

    #[test]
    fn the_space_ends_where_the_format_does() {
        let g = generator(6);
        assert!(g.permute(IdAnpr::SPACE - 1).is_some());
        assert!(g.permute(IdAnpr::SPACE).is_none());
    }
}
