//! ID ANPR generation on one core (FF1 over 32 bits + cycle-walking + formatting) and check.
//! Run: `cargo bench -p anagrafe-domain --bench id_anpr`.

use anagrafe_domain::{IdAnpr, IdGenerator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let g = IdGenerator::new(&[42; 16]);
    let mut group = c.benchmark_group("id_anpr");
    group.throughput(Throughput::Elements(1024));
    let mut n = 0u64;
    group.bench_function("generate", |b| {
        b.iter(|| {
            for _ in 0..1024 {
                black_box(g.id(n));
                n += 1;
            }
        })
    });
    group.bench_function("ff1", |b| {
        b.iter(|| {
            for x in 0..1024u32 {
                black_box(g.ff1(black_box(x)));
            }
        })
    });
    group.bench_function("format", |b| {
        b.iter(|| {
            for x in 0..1024u64 {
                black_box(IdAnpr::from_index(black_box(x * 1_000_003)));
            }
        })
    });
    group.bench_function("aes_block", |b| {
        use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
        let a = aes::Aes128::new(&Array::from([7u8; 16]));
        let mut blk = Array::from([1u8; 16]);
        b.iter(|| {
            for _ in 0..1024 {
                a.encrypt_block(black_box(&mut blk));
            }
        })
    });
    let ids: Vec<String> = (0..1024).map(|i| g.id(i).unwrap().to_string()).collect();
    group.bench_function("check", |b| {
        b.iter(|| {
            for id in &ids {
                let _ = black_box(IdAnpr::parse(id));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
