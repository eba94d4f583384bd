//! Synthetic population, builders and demo data.
//!
//! [`PopulationGenerator`] makes realistic, deterministic people (same seed, same people):
//! households with consistent ages and relations, names with Italian frequencies, births in real
//! comuni with the code valid on the birth date (including comuni since renamed or merged) and
//! abroad, computed codici fiscali (omocodia resolved as the Revenue Agency would), foreign
//! citizens and Italians abroad (AIRE). It never holds more than one batch in memory.

/// A line of free text the generator or a test wrote: its values are known to fit, so a value
/// that does not is a bug of the caller and panics.
pub fn line<const N: usize, const S: u8>(s: impl AsRef<str>) -> anagrafe_domain::text::Line<N, S> {
    anagrafe_domain::text::Line::new(s.as_ref()).unwrap_or_else(|e| panic!("{:?} {e}", s.as_ref()))
}

pub mod names;

use anagrafe_domain::decode::{LegameConvivenza, RelazioneParentela, SpecieConvivenza, StatoCivile, StatoValidazioneCf, TipoSoggiorno};
use anagrafe_domain::{
    Belfiore, BirthPlace, CfInput, CodiceFiscale, Comune, Country, DocumentKind, ForeignAddress, Generalita, Household, HouseholdKind,
    IdentityDocument, ItalianAddress, PartialDate, PersonName, PersonRecord, RefData, RegisterStatus, Residence, Sex,
};
use anagrafe_store::{NewFamily, NewPerson, PopulationBatch};
use chrono::{Datelike, Duration, NaiveDate};
use names::*;
use rand::distributions::WeightedIndex;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::sync::Arc;

/// Italy's age pyramid in five-year bands from 0–4 to 95–99 (per mille, rounded, ISTAT 2024).
const AGE_BANDS: [u32; 20] = [34, 40, 46, 48, 49, 51, 53, 58, 66, 76, 81, 80, 70, 60, 56, 46, 38, 23, 10, 3];

/// Years at which the set of comuni is sampled to draw birthplaces valid on a birth date.
const ERAS: [i32; 9] = [1925, 1935, 1950, 1965, 1980, 1995, 2005, 2015, 2024];

/// Deterministic generator of a synthetic population.
#[derive(Debug)]
pub struct PopulationGenerator {
    rng: ChaCha8Rng,
    refdata: Arc<RefData>,
    today: NaiveDate,
    eras: Vec<(i32, Vec<usize>)>,
    current: Vec<usize>,
    bilingual: Vec<usize>,
    big_cities: Vec<(Belfiore, u32)>,
    big_city_index: WeightedIndex<u32>,
    surnames: WeightedIndex<u32>,
    male: WeightedIndex<u32>,
    female: WeightedIndex<u32>,
    communities: WeightedIndex<u32>,
    aire: WeightedIndex<u32>,
    ages: WeightedIndex<u32>,
    issued_cf: HashSet<u64>,
    documents_issued: u64,
}

/// One household: the family (or cohabitation) and its members, head first.
#[derive(Debug, Clone)]
pub struct SynthHousehold {
    /// The household.
    pub family: NewFamily,
    /// Its members; `record.household` carries `family_id: 0` (this household).
    pub members: Vec<NewPerson>,
}

impl PopulationGenerator {
    /// A generator for `seed`, drawing places from `refdata`, with ages counted to `today`.
    pub fn new(seed: u64, refdata: Arc<RefData>, today: NaiveDate) -> Self {
        let mut eras = Vec::new();
        for y in ERAS {
            let on = NaiveDate::from_ymd_opt(y, 6, 30).expect("valid date");
            let idx: Vec<usize> = refdata.comuni().iter().enumerate().filter(|(_, c)| c.valid_on(on)).map(|(i, _)| i).collect();
            eras.push((y, idx));
        }
        let current: Vec<usize> = refdata.comuni().iter().enumerate().filter(|(_, c)| c.valid_on(today)).map(|(i, _)| i).collect();
        let bilingual = current.iter().copied().filter(|&i| refdata.comuni()[i].alt_name.is_some()).collect();
        let big_cities: Vec<(Belfiore, u32)> = BIG_CITIES.iter().map(|(c, w)| (Belfiore::parse(c).expect("valid code"), *w)).collect();
        let w = |xs: &[(&str, u32)]| WeightedIndex::new(xs.iter().map(|x| x.1)).expect("weights");
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            eras,
            current,
            bilingual,
            big_city_index: WeightedIndex::new(big_cities.iter().map(|x| x.1)).expect("weights"),
            big_cities,
            surnames: w(SURNAMES),
            male: w(MALE),
            female: w(FEMALE),
            communities: WeightedIndex::new(COMMUNITIES.iter().map(|c| c.weight)).expect("weights"),
            aire: WeightedIndex::new(AIRE_DESTINATIONS.iter().map(|a| a.1)).expect("weights"),
            ages: WeightedIndex::new(AGE_BANDS).expect("weights"),
            refdata,
            today,
            issued_cf: HashSet::new(),
            documents_issued: 0,
        }
    }

    /// Produces batches of about `batch_size` persons until exactly `persons` have been made.
    pub fn batches(&mut self, persons: u64, batch_size: usize) -> impl Iterator<Item = PopulationBatch> + '_ {
        let mut left = persons;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let mut batch = PopulationBatch::default();
            while left > 0 && batch.persons.len() < batch_size {
                let mut h = self.household();
                h.members.truncate(left as usize);
                let local = batch.families.len() as i64;
                for mut m in h.members {
                    m.record.household = m.record.household.map(|hh| match hh {
                        Household::Family { relation, .. } => Household::Family { family_id: local, relation },
                        Household::Cohabitation { bond, .. } => Household::Cohabitation { family_id: local, bond },
                    });
                    batch.persons.push(m);
                    left -= 1;
                }
                batch.families.push(h.family);
            }
            Some(batch)
        })
    }

    /// One household.
    pub fn household(&mut self) -> SynthHousehold {
        let roll: f64 = self.rng.r#gen();
        // AIRE households are mostly one person, so a fifth of households gives ~10% of people.
        if roll < 0.20 {
            self.aire_household()
        } else if roll < 0.204 {
            self.cohabitation()
        } else {
            let foreign = self.rng.gen_bool(0.115);
            self.resident_household(foreign)
        }
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        *xs.choose(&mut self.rng).expect("non-empty")
    }

    fn age(&mut self, min: i32, max: i32) -> i32 {
        for _ in 0..50 {
            let band = self.ages.sample(&mut self.rng) as i32;
            let a = band * 5 + self.rng.gen_range(0..5);
            if (min..=max).contains(&a) {
                return a;
            }
        }
        self.rng.gen_range(min..=max)
    }

    fn birth_date_for_age(&mut self, age: i32) -> NaiveDate {
        let last_birthday_year = self.today.year() - age;
        let start = NaiveDate::from_ymd_opt(last_birthday_year - 1, self.today.month(), 1).unwrap_or(self.today) + Duration::days(1);
        let d = start + Duration::days(self.rng.gen_range(0..365));
        d.min(self.today)
    }

    fn first_name(&mut self, sex: Sex) -> &'static str {
        match sex {
            Sex::M => MALE[self.male.sample(&mut self.rng)].0,
            Sex::F => FEMALE[self.female.sample(&mut self.rng)].0,
        }
    }

    fn surname(&mut self) -> &'static str {
        SURNAMES[self.surnames.sample(&mut self.rng)].0
    }

    /// A comune record valid on `on`, weighted towards the large cities where most births are
    /// registered.
    fn birth_comune(&mut self, on: NaiveDate) -> Belfiore {
        if self.rng.gen_bool(0.3) {
            let (code, _) = self.big_cities[self.big_city_index.sample(&mut self.rng)];
            if self.refdata.comune_at(code, on).is_some() {
                return code;
            }
        }
        let era = self.eras.iter().rposition(|(y, _)| *y <= on.year()).unwrap_or(0);
        for _ in 0..20 {
            let list = &self.eras[era].1;
            let c = &self.refdata.comuni()[list[self.rng.gen_range(0..list.len())]];
            if c.valid_on(on) {
                return c.belfiore;
            }
        }
        // Rome has been a comune on every date a living person can have been born.
        Belfiore::parse("H501").expect("valid")
    }

    fn residence_comune(&mut self) -> Comune {
        let i = if self.rng.gen_bool(0.02) {
            self.bilingual[self.rng.gen_range(0..self.bilingual.len())]
        } else if self.rng.gen_bool(0.25) {
            let (code, _) = self.big_cities[self.big_city_index.sample(&mut self.rng)];
            match self.refdata.comune_at(code, self.today) {
                Some(c) => return c.clone(),
                None => self.current[self.rng.gen_range(0..self.current.len())],
            }
        } else {
            self.current[self.rng.gen_range(0..self.current.len())]
        };
        self.refdata.comuni()[i].clone()
    }

    fn address(&mut self, comune: Belfiore) -> ItalianAddress {
        let (species, toponym) = self.pick(TOPONYMS);
        let civic = self.rng.gen_range(1..=180);
        let civic = if self.rng.gen_bool(0.08) { format!("{civic}/{}", self.pick(&['A', 'B', 'C'])) } else { civic.to_string() };
        ItalianAddress {
            comune,
            cap: None,
            species: line(species),
            toponym: line(toponym),
            civic: Some(line(civic)),
            internal: self.rng.gen_bool(0.4).then(|| line(format!("INT. {}", self.rng.gen_range(1..=30)))),
            locality: None,
        }
    }

    fn codice_fiscale(&mut self, surname: &str, name: &str, sex: Sex, birth: NaiveDate, place: Belfiore) -> CodiceFiscale {
        let base = CodiceFiscale::compute(&CfInput { surname, name, sex, birth_date: birth, birth_place: place });
        for level in 0..=7 {
            let cf = base.omocode_variant(level).expect("level in range");
            let key = fxhash(cf.as_str().as_bytes());
            if self.issued_cf.insert(key) {
                return cf;
            }
        }
        base
    }

    fn person(&mut self, draft: Draft<'_>) -> NewPerson {
        let Draft { surname, name, sex, birth, place, citizenships, residence, household, civil_status, since } = draft;
        let cf = self.codice_fiscale(surname, name, sex, birth, place.code());
        let age = PartialDate::full(birth).age_on(self.today);
        let foreign_non_eu = citizenships.iter().any(|c| match c {
            Country::Foreign(z) => COMMUNITIES.iter().any(|k| k.state == z.as_str() && !k.eu),
            Country::Italia => false,
        }) && !citizenships.contains(&Country::Italia);
        let mut documents = Vec::new();
        if age >= 12 && self.rng.gen_bool(0.75) {
            self.documents_issued += 1;
            let issued = (self.today - Duration::days(self.rng.gen_range(30..3600))).max(birth);
            let kind = if foreign_non_eu {
                DocumentKind::PermessoSoggiorno(if self.rng.gen_bool(0.6) {
                    TipoSoggiorno::Permesso
                } else {
                    TipoSoggiorno::CartaSoggiornoPermessoSoggiorno
                })
            } else {
                DocumentKind::Cie
            };
            let n = self.documents_issued;
            let number = match kind {
                DocumentKind::PermessoSoggiorno(_) => format!("I{:08}", n),
                _ => format!(
                    "C{}{:05}{}{}",
                    (b'A' + (n / 2_600_000 % 26) as u8) as char,
                    n % 100_000,
                    (b'A' + (n / 100_000 % 26) as u8) as char,
                    (b'A' + (n / 2_600 % 26) as u8) as char
                ),
            };
            documents.push(IdentityDocument {
                kind,
                number: line(number),
                issued_on: issued,
                expires_on: Some(issued + Duration::days(3650)),
                issuer: None,
            });
        }
        let email = (age >= 18 && self.rng.gen_bool(0.35)).then(|| {
            let local: String = anagrafe_domain::text::fold(&format!("{name} {surname}")).to_lowercase().replace(' ', ".");
            format!("{local}{}@mail.example.org", self.rng.gen_range(1..1000))
        });
        let status = match residence {
            Residence::Italy(_) => RegisterStatus::Resident,
            Residence::Abroad { .. } => RegisterStatus::Aire,
        };
        let reason = match (&residence, &place) {
            (Residence::Abroad { .. }, _) => "C01",
            (_, BirthPlace::Abroad { .. }) => "4",
            _ if since == birth => "1",
            _ => "3",
        };
        NewPerson {
            record: PersonRecord {
                id_anpr: None,
                status,
                generalita: Generalita {
                    name: PersonName::new(Some(surname), Some(name)).expect("generated names are valid"),
                    sex,
                    birth_date: PartialDate::full(birth),
                    birth_place: place,
                    codice_fiscale: Some(cf),
                    cf_validation: if self.rng.gen_bool(0.97) {
                        StatoValidazioneCf::DatiAnagraficiValidati
                    } else {
                        StatoValidazioneCf::DatiAnagraficiNonValidati
                    },
                },
                citizenships,
                civil_status,
                residence,
                household: Some(household),
                documents,
                email: email.map(line),
                digital_domicile: None,
                death: None,
            },
            residence_since: since,
            civil_status_since: if civil_status == StatoCivile::CelibeNubile { birth } else { since.max(birth + Duration::days(18 * 365)) },
            household_since: since,
            reason: reason.to_owned(),
        }
    }

    fn since(&mut self, birth: NaiveDate, min_age: i64) -> NaiveDate {
        let from = birth + Duration::days(min_age * 365);
        let span = (self.today - from).num_days().max(1);
        from + Duration::days(self.rng.gen_range(0..span))
    }

    fn resident_household(&mut self, foreign: bool) -> SynthHousehold {
        let comune = self.residence_comune();
        let address = self.address(comune.belfiore);
        let community = foreign.then(|| &COMMUNITIES[self.communities.sample(&mut self.rng)]);
        let kind: f64 = self.rng.r#gen();
        // ISTAT household shares: one person 33%, couples without children 20%, couples with
        // children 33%, one parent with children 11% (rounded).
        let (couple, children) = match kind {
            k if k < 0.33 => (false, 0),
            k if k < 0.53 => (true, 0),
            k if k < 0.86 => (true, self.rng.gen_range(1..=3)),
            _ => (false, self.rng.gen_range(1..=2)),
        };
        let head_age = if children > 0 {
            self.age(25, 60)
        } else if couple {
            self.age(22, 95)
        } else {
            self.age(18, 99)
        };
        let head_sex = if couple || self.rng.gen_bool(0.5) { Sex::M } else { Sex::F };
        let family_surname: String = match community {
            Some(c) => self.pick(c.surnames).to_owned(),
            None => self.surname().to_owned(),
        };
        let head_birth = self.birth_date_for_age(head_age);
        let formed_on = self.since(head_birth, 18);
        let residence = Residence::Italy(address);
        let citizenship =
            |c: Option<&Community>| vec![c.map_or(Country::Italia, |c| Country::Foreign(Belfiore::parse(c.state).expect("valid")))];
        let mut members = Vec::new();
        let head_status = if couple {
            StatoCivile::Coniugato
        } else if children > 0 || head_age > 70 {
            *[StatoCivile::Vedovo, StatoCivile::Divorziato, StatoCivile::CelibeNubile].choose(&mut self.rng).expect("non-empty")
        } else {
            StatoCivile::CelibeNubile
        };
        let (head_name, head_place) = self.name_and_birthplace(community, head_sex, head_birth, false);
        members.push(self.person(Draft {
            surname: &family_surname,
            name: &head_name,
            sex: head_sex,
            birth: head_birth,
            place: head_place,
            citizenships: citizenship(community),
            residence: residence.clone(),
            household: Household::Family { family_id: 0, relation: RelazioneParentela::IntestatarioScheda },
            civil_status: head_status,
            since: formed_on,
        }));
        let mut mother_birth = if head_sex == Sex::F { Some(head_birth) } else { None };
        if couple {
            let spouse_age = (head_age + self.rng.gen_range(-6..=2)).clamp(18, 99);
            let spouse_birth = self.birth_date_for_age(spouse_age);
            mother_birth = Some(spouse_birth);
            let spouse_surname: String = match community {
                Some(c) => self.pick(c.surnames).to_owned(),
                None => self.surname().to_owned(),
            };
            let (n, p) = self.name_and_birthplace(community, Sex::F, spouse_birth, false);
            members.push(self.person(Draft {
                surname: &spouse_surname,
                name: &n,
                sex: Sex::F,
                birth: spouse_birth,
                place: p,
                citizenships: citizenship(community),
                residence: residence.clone(),
                household: Household::Family { family_id: 0, relation: RelazioneParentela::MaritoMoglie },
                civil_status: StatoCivile::Coniugato,
                since: formed_on,
            }));
        }
        let mother = mother_birth.unwrap_or(head_birth);
        for _ in 0..children {
            // Children born when the mother was 20–42 and not after today.
            let min = mother + Duration::days(20 * 365);
            let max = (mother + Duration::days(42 * 365)).min(self.today);
            if min >= max {
                break;
            }
            let birth = min + Duration::days(self.rng.gen_range(0..(max - min).num_days()));
            let sex = if self.rng.gen_bool(0.51) { Sex::M } else { Sex::F };
            let born_here = community.is_none() || self.rng.gen_bool(0.6);
            let (n, p) = self.name_and_birthplace(if born_here { None } else { community }, sex, birth, born_here && community.is_some());
            let name = if community.is_some() && !born_here { n } else { n.clone() };
            let since = birth.max(formed_on);
            let status = if PartialDate::full(birth).age_on(self.today) > 30 && self.rng.gen_bool(0.3) {
                StatoCivile::Divorziato
            } else {
                StatoCivile::CelibeNubile
            };
            let mut cits = citizenship(community);
            if community.is_some() && born_here && PartialDate::full(birth).age_on(self.today) >= 18 && self.rng.gen_bool(0.5) {
                cits.insert(0, Country::Italia); // naturalised at 18
            }
            members.push(self.person(Draft {
                surname: &family_surname,
                name: &name,
                sex,
                birth,
                place: p,
                citizenships: cits,
                residence: residence.clone(),
                household: Household::Family { family_id: 0, relation: RelazioneParentela::FiglioFiglia },
                civil_status: status,
                since,
            }));
        }
        SynthHousehold { family: NewFamily { kind: HouseholdKind::Family, comune: comune.belfiore, name: None, formed_on }, members }
    }

    /// A first name and birthplace: Italians born in a comune valid on the date; members of a
    /// foreign community born in their state unless `born_in_italy`.
    fn name_and_birthplace(
        &mut self,
        community: Option<&Community>,
        sex: Sex,
        birth: NaiveDate,
        born_in_italy: bool,
    ) -> (String, BirthPlace) {
        match community {
            Some(c) if !born_in_italy => {
                let names = if sex == Sex::M { c.male } else { c.female };
                let name = self.pick(names).to_owned();
                let state = Belfiore::parse(c.state).expect("valid");
                let state = if self.refdata.place_at(state, birth).is_ok() { state } else { self.historical_state(state) };
                (name, BirthPlace::Abroad { state, locality: Some(line(self.pick(c.localities))) })
            }
            Some(c) => {
                let names = if sex == Sex::M { c.male } else { c.female };
                let name = if self.rng.gen_bool(0.5) { self.pick(names).to_owned() } else { self.first_name(sex).to_owned() };
                (name, BirthPlace::Comune { code: self.birth_comune(birth) })
            }
            None => {
                let name = self.first_name(sex).to_owned();
                if self.rng.gen_bool(0.03) {
                    // Italians born abroad (emigrant families who came back).
                    let (z, _, locs) = AIRE_DESTINATIONS[self.aire.sample(&mut self.rng)];
                    (name, BirthPlace::Abroad { state: Belfiore::parse(z).expect("valid"), locality: Some(line(self.pick(locs))) })
                } else {
                    (name, BirthPlace::Comune { code: self.birth_comune(birth) })
                }
            }
        }
    }

    /// The state a person of today's `state` was born in, when that did not exist yet (e.g.
    /// North Macedonia → Yugoslavia).
    fn historical_state(&self, state: Belfiore) -> Belfiore {
        let z = match state.as_str() {
            "Z148" | "Z149" | "Z150" | "Z153" | "Z158" | "Z159" | "Z160" => "Z118",
            "Z138" | "Z139" | "Z140" | "Z154" => "Z135",
            "Z155" | "Z156" => "Z105",
            _ => state.as_str(),
        };
        Belfiore::parse(z).unwrap_or(state)
    }

    fn aire_household(&mut self) -> SynthHousehold {
        let (z, _, locs) = AIRE_DESTINATIONS[self.aire.sample(&mut self.rng)];
        let state = Belfiore::parse(z).expect("valid");
        let aire_comune = self.residence_comune().belfiore;
        let locality = line(self.pick(locs));
        let address = ForeignAddress {
            state,
            locality,
            address: Some(line(format!(
                "{} {}",
                self.rng.gen_range(1..400),
                self.pick(&["Main Street", "Hauptstrasse", "Rue de la Paix", "Avenida Libertador", "Bahnhofstrasse"])
            ))),
            postcode: Some(line(format!("{:05}", self.rng.gen_range(1000..99999)))),
            consulate: None,
        };
        let residence = Residence::Abroad { address, aire_comune };
        let age = self.age(18, 95);
        let sex = if self.rng.gen_bool(0.5) { Sex::M } else { Sex::F };
        let birth = self.birth_date_for_age(age);
        let surname = self.surname().to_owned();
        // Older emigrants were born in Italy; younger ones often abroad.
        let place = if age < 40 && self.rng.gen_bool(0.5) {
            BirthPlace::Abroad { state, locality: Some(line(self.pick(locs))) }
        } else {
            BirthPlace::Comune { code: self.birth_comune(birth) }
        };
        let name = self.first_name(sex).to_owned();
        let since = self.since(birth, 18);
        let civil = if self.rng.gen_bool(0.5) { StatoCivile::Coniugato } else { StatoCivile::CelibeNubile };
        let head = self.person(Draft {
            surname: &surname,
            name: &name,
            sex,
            birth,
            place,
            citizenships: vec![Country::Italia],
            residence,
            household: Household::Family { family_id: 0, relation: RelazioneParentela::IntestatarioScheda },
            civil_status: civil,
            since,
        });
        SynthHousehold {
            family: NewFamily { kind: HouseholdKind::Family, comune: aire_comune, name: None, formed_on: since },
            members: vec![head],
        }
    }

    fn cohabitation(&mut self) -> SynthHousehold {
        let comune = self.residence_comune();
        let address = self.address(comune.belfiore);
        let (specie, label) = *[
            (SpecieConvivenza::Cura, "RSA"),
            (SpecieConvivenza::MotiviReligiosi, "CONVENTO"),
            (SpecieConvivenza::Assistenza, "CASA FAMIGLIA"),
        ]
        .choose(&mut self.rng)
        .expect("non-empty");
        let formed_on = NaiveDate::from_ymd_opt(self.rng.gen_range(1950..2015), 1, 1).expect("valid");
        let n = self.rng.gen_range(4..=12);
        let residence = Residence::Italy(address);
        let mut members = Vec::new();
        for i in 0..n {
            let age = if specie == SpecieConvivenza::Cura { self.age(75, 99) } else { self.age(25, 90) };
            let sex = if self.rng.gen_bool(0.6) { Sex::F } else { Sex::M };
            let birth = self.birth_date_for_age(age);
            let surname = self.surname().to_owned();
            let (name, place) = self.name_and_birthplace(None, sex, birth, false);
            let since = self.since(birth, 18).max(formed_on);
            let bond = if i == 0 { LegameConvivenza::ResponsabileConvivenza } else { LegameConvivenza::MembroConvivenza };
            let status = if age > 75 { StatoCivile::Vedovo } else { StatoCivile::CelibeNubile };
            members.push(self.person(Draft {
                surname: &surname,
                name: &name,
                sex,
                birth,
                place,
                citizenships: vec![Country::Italia],
                residence: residence.clone(),
                household: Household::Cohabitation { family_id: 0, bond },
                civil_status: status,
                since,
            }));
        }
        SynthHousehold {
            family: NewFamily {
                kind: HouseholdKind::Cohabitation { specie },
                comune: comune.belfiore,
                name: Some(format!("{label} {}", comune.name)),
                formed_on,
            },
            members,
        }
    }
}

/// What a household generator decides about one member; [`PopulationGenerator::person`] adds
/// the rest (codice fiscale, documents, e-mail, dates).
struct Draft<'a> {
    surname: &'a str,
    name: &'a str,
    sex: Sex,
    birth: NaiveDate,
    place: BirthPlace,
    citizenships: Vec<Country>,
    residence: Residence,
    household: Household,
    civil_status: StatoCivile,
    since: NaiveDate,
}

/// A small fast hash for the omocodia set (no need for DoS resistance here).
fn fxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn people(seed: u64, n: u64) -> Vec<PopulationBatch> {
        PopulationGenerator::new(seed, RefData::current(), today()).batches(n, 500).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_people() {
        let a: Vec<_> = people(7, 300).into_iter().flat_map(|b| b.persons).collect();
        let b: Vec<_> = people(7, 300).into_iter().flat_map(|b| b.persons).collect();
        assert_eq!(a, b);
        let c: Vec<_> = people(8, 300).into_iter().flat_map(|b| b.persons).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn exactly_the_requested_number_is_made() {
        let n: usize = people(1, 1234).iter().map(|b| b.persons.len()).sum();
        assert_eq!(n, 1234);
    }

    #[test]
    fn generated_records_pass_the_domain_checks() {
        let r = RefData::current();
        let mut abroad = 0;
        let mut foreign = 0;
        let mut aire = 0;
        let mut bilingual = 0;
        let mut total = 0;
        for b in people(3, 20_000) {
            for p in &b.persons {
                total += 1;
                let errs = p.record.check(&r, today());
                assert!(errs.is_empty(), "{errs:?} in {:?}", p.record);
                let g = &p.record.generalita;
                let cf = g.codice_fiscale.unwrap();
                let dec = cf.decode(&r, today()).unwrap();
                assert_eq!(dec.birth_place_code, g.birth_place.code());
                abroad += matches!(g.birth_place, BirthPlace::Abroad { .. }) as u32;
                foreign += (!p.record.citizenships.contains(&Country::Italia)) as u32;
                aire += (p.record.status == RegisterStatus::Aire) as u32;
                if let Residence::Italy(a) = &p.record.residence {
                    bilingual += r.comune_at(a.comune, today()).unwrap().alt_name.is_some() as u32;
                }
            }
        }
        let pct = |x: u32| x as f64 * 100.0 / total as f64;
        assert!((5.0..13.0).contains(&pct(foreign)), "foreign citizens {:.1}%", pct(foreign));
        assert!((6.0..14.0).contains(&pct(aire)), "AIRE {:.1}%", pct(aire));
        assert!(pct(abroad) > 5.0, "born abroad {:.1}%", pct(abroad));
        eprintln!("foreign {:.1}% AIRE {:.1}% born abroad {:.1}% bilingual {bilingual}", pct(foreign), pct(aire), pct(abroad));
        assert!(bilingual > 0, "no resident of a bilingual comune");
    }

    #[test]
    fn family_relations_and_ages_are_consistent() {
        for b in people(5, 5_000) {
            let mut by_family: std::collections::HashMap<i64, Vec<&NewPerson>> = Default::default();
            for p in &b.persons {
                let id = match p.record.household.unwrap() {
                    Household::Family { family_id, .. } | Household::Cohabitation { family_id, .. } => family_id,
                };
                by_family.entry(id).or_default().push(p);
            }
            for members in by_family.values() {
                let heads = members
                    .iter()
                    .filter(|m| {
                        matches!(m.record.household, Some(Household::Family { relation: RelazioneParentela::IntestatarioScheda, .. }))
                    })
                    .count();
                let is_family = matches!(members[0].record.household, Some(Household::Family { .. }));
                if is_family {
                    assert_eq!(heads, 1, "a family has one head");
                }
                let parents: Vec<NaiveDate> = members
                    .iter()
                    .filter(|m| !matches!(m.record.household, Some(Household::Family { relation: RelazioneParentela::FiglioFiglia, .. })))
                    .map(|m| m.record.generalita.birth_date.first_day())
                    .collect();
                for child in members
                    .iter()
                    .filter(|m| matches!(m.record.household, Some(Household::Family { relation: RelazioneParentela::FiglioFiglia, .. })))
                {
                    let cb = child.record.generalita.birth_date.first_day();
                    assert!(parents.iter().any(|p| (cb - *p).num_days() >= 18 * 365), "a child born {cb} to parents born {parents:?}");
                }
            }
        }
    }

    #[test]
    fn some_people_were_born_in_comuni_that_no_longer_exist() {
        let r = RefData::current();
        let ceased = people(11, 20_000)
            .iter()
            .flat_map(|b| &b.persons)
            .filter(|p| match p.record.generalita.birth_place {
                BirthPlace::Comune { code } => r.comune_at(code, today()).is_none_or(|c| {
                    let at_birth = r.comune_at(code, p.record.generalita.birth_date.first_day()).unwrap();
                    at_birth.name != c.name
                }),
                _ => false,
            })
            .count();
        assert!(ceased > 10, "only {ceased} births in comuni since ceased or renamed");
    }
}

/// A synthetic `(surname, given name)` whose codice fiscale letters differ for every `n` below
/// 20⁶ (64 million): load scripts use it so that their persons are not all omocodes.
pub fn distinct_name(n: u64) -> (String, String) {
    const C: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
    let d = |k: u32| C[((n / 20u64.pow(k)) % 20) as usize] as char;
    let word = |a: char, b: char, c: char, v: [char; 3]| {
        let mut w = String::new();
        w.push(a);
        w.extend([v[0].to_ascii_lowercase(), b.to_ascii_lowercase(), v[1], c.to_ascii_lowercase(), v[2]]);
        w
    };
    (word(d(0), d(1), d(2), ['a', 'e', 'i']), word(d(3), d(4), d(5), ['o', 'u', 'a']))
}

#[cfg(test)]
mod distinct_name_tests {
    #[test]
    fn distinct_names_give_distinct_codes() {
        let mut seen = std::collections::HashSet::new();
        for n in (0..200_000u64).step_by(7) {
            let (s, g) = super::distinct_name(n);
            let cf = anagrafe_domain::CodiceFiscale::compute(&anagrafe_domain::CfInput {
                surname: &s,
                name: &g,
                sex: anagrafe_domain::Sex::F,
                birth_date: chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
                birth_place: anagrafe_domain::Belfiore::parse("H501").unwrap(),
            });
            assert!(seen.insert(cf), "{n}: {s} {g}");
        }
    }
}

/// A birth registration (reason 1) of the `n`-th [`distinct_name`], born in `birth_comune` on
/// `date` and resident in `residence_comune`, in a new family: what benchmarks write.
pub fn registration(n: u64, birth_comune: &str, residence_comune: &str, date: NaiveDate) -> anagrafe_domain::ops::Registration {
    use anagrafe_domain::ops::{HouseholdChoice, Registration};
    let (surname, given) = distinct_name(n);
    let code = |c: &str| Belfiore::parse(c).expect("a Belfiore code");
    Registration {
        reason: "1".into(),
        reason_description: None,
        effective_date: date,
        name: PersonName::new(Some(&surname), Some(&given)).expect("a valid synthetic name"),
        sex: if n.is_multiple_of(2) { Sex::F } else { Sex::M },
        birth_date: PartialDate::parse(&date.to_string()).expect("a full date"),
        birth_place: BirthPlace::Comune { code: code(birth_comune) },
        codice_fiscale: None,
        citizenships: vec![Country::Italia],
        civil_status: StatoCivile::CelibeNubile,
        residence: Residence::Italy(ItalianAddress {
            comune: code(residence_comune),
            cap: None,
            species: line("VIA"),
            toponym: line("del Banco"),
            civic: Some(line((n % 200 + 1).to_string())),
            internal: None,
            locality: None,
        }),
        household: HouseholdChoice::New { household: HouseholdKind::Family, name: None },
        email: None,
        digital_domicile: None,
        origin: None,
        birth_act: None,
        parents: Vec::new(),
    }
}
