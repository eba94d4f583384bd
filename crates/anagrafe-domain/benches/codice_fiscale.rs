//! Codice fiscale throughput on one core: compute, validate (parse: structure + omocodia +
//! check character), and full decode against the reference data.
//! Run: `cargo bench -p anagrafe-domain --bench codice_fiscale`.

use anagrafe_domain::{Belfiore, CfInput, CodiceFiscale, RefData, Sex};
use chrono::NaiveDate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn inputs() -> Vec<(String, String, Sex, NaiveDate, Belfiore)> {
    let surnames = ["Rossi", "D'Angelo", "De Luca", "Fo", "Esposito", "Popescu", "Chen", "Dell'Acqua"];
    let names = ["Mario", "Gianfranco", "Anna Maria", "Lù", "Ion", "Wei", "Giuseppina", "Nicolò"];
    let places = ["H501", "F205", "L219", "A952", "Z404", "Z129", "D005", "F839"];
    (0..1024)
        .map(|i: usize| {
            (
                surnames[i % 8].to_owned(),
                names[(i / 8) % 8].to_owned(),
                if i.is_multiple_of(2) { Sex::M } else { Sex::F },
                NaiveDate::from_ymd_opt(1940 + (i % 60) as i32, 1 + (i % 12) as u32, 1 + (i % 28) as u32).unwrap(),
                Belfiore::parse(places[(i / 3) % 8]).unwrap(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let data = inputs();
    let codes: Vec<String> = data
        .iter()
        .map(|(s, n, sex, d, p)| {
            CodiceFiscale::compute(&CfInput { surname: s, name: n, sex: *sex, birth_date: *d, birth_place: *p }).to_string()
        })
        .collect();
    let mut g = c.benchmark_group("codice_fiscale");
    g.throughput(Throughput::Elements(data.len() as u64));
    g.bench_function("compute", |b| {
        b.iter(|| {
            for (s, n, sex, d, p) in &data {
                black_box(CodiceFiscale::compute(&CfInput { surname: s, name: n, sex: *sex, birth_date: *d, birth_place: *p }));
            }
        })
    });
    g.bench_function("validate", |b| {
        b.iter(|| {
            for code in &codes {
                let _ = black_box(CodiceFiscale::parse(black_box(code)));
            }
        })
    });
    let refdata = RefData::current();
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    g.bench_function("decode", |b| {
        b.iter(|| {
            for code in &codes {
                let _ = black_box(CodiceFiscale::parse(code).unwrap().decode(&refdata, today));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
