//! Rows of a population batch, flattened once and written by each backend its own way:
//! binary `COPY … FROM STDIN` on PostgreSQL, multi-row prepared `INSERT`s on SQLite.

use crate::rows::{ResidenceCols, birth_place_cols, code_of, document_kind_cols, household_cols};
use crate::{NewPerson, PopulationBatch};
use anagrafe_domain::Household;
use chrono::NaiveDate;

/// One value of a row.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Small(i16),
    Bool(bool),
    Text(String),
    Date(NaiveDate),
}

impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        v.map_or(Val::Null, Val::Text)
    }
}

impl<const N: usize, const S: u8> From<Option<anagrafe_domain::text::Line<N, S>>> for Val {
    fn from(v: Option<anagrafe_domain::text::Line<N, S>>) -> Self {
        v.map_or(Val::Null, |l| Val::Text(l.into()))
    }
}

/// The rows of one table.
#[derive(Debug)]
pub(crate) struct TableRows {
    pub table: &'static str,
    pub cols: &'static [&'static str],
    pub vals: Vec<Val>,
}

impl TableRows {
    fn new(table: &'static str, cols: &'static [&'static str]) -> Self {
        Self { table, cols, vals: Vec::new() }
    }

    fn push(&mut self, row: impl IntoIterator<Item = Val>) {
        let before = self.vals.len();
        self.vals.extend(row);
        debug_assert_eq!(self.vals.len() - before, self.cols.len(), "row width of {}", self.table);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.vals.len() / self.cols.len()
    }

    /// `COPY table (cols) FROM STDIN (FORMAT binary)` statement.
    pub fn copy_binary_statement(&self) -> String {
        format!("COPY {} ({}) FROM STDIN (FORMAT binary)", self.table, self.cols.join(", "))
    }

    /// The rows in PostgreSQL's binary COPY format: the server parses nothing, which is where
    /// most of a text COPY's time goes. `Int` must fill `BIGINT` columns, `Small` `SMALLINT`.
    pub fn copy_binary(&self) -> Vec<u8> {
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).expect("valid date");
        let mut out = Vec::with_capacity(19 + self.vals.len() * 10);
        out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        out.extend_from_slice(&0i32.to_be_bytes()); // flags
        out.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        for row in self.vals.chunks(self.cols.len()) {
            out.extend_from_slice(&(self.cols.len() as i16).to_be_bytes());
            for v in row {
                match v {
                    Val::Null => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Val::Int(n) => {
                        out.extend_from_slice(&8i32.to_be_bytes());
                        out.extend_from_slice(&n.to_be_bytes());
                    }
                    Val::Small(n) => {
                        out.extend_from_slice(&2i32.to_be_bytes());
                        out.extend_from_slice(&n.to_be_bytes());
                    }
                    Val::Bool(b) => {
                        out.extend_from_slice(&1i32.to_be_bytes());
                        out.push(u8::from(*b));
                    }
                    Val::Date(d) => {
                        out.extend_from_slice(&4i32.to_be_bytes());
                        out.extend_from_slice(&((*d - epoch).num_days() as i32).to_be_bytes());
                    }
                    Val::Text(t) => {
                        out.extend_from_slice(&(t.len() as i32).to_be_bytes());
                        out.extend_from_slice(t.as_bytes());
                    }
                }
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }
}

/// Tables a bulk load writes (their secondary indexes may be rebuilt at the end).
pub(crate) const BULK_TABLES: &[&str] = &[
    "families",
    "persons",
    "person_generalita",
    "person_residences",
    "person_citizenships",
    "person_civil_status",
    "family_members",
    "person_documents",
    "person_deaths",
    "id_anpr_registry",
];

/// `'a', 'b', …` of [`BULK_TABLES`] for an SQL `IN` list.
pub(crate) fn bulk_tables_sql() -> String {
    BULK_TABLES.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ")
}

const FAMILIES: &[&str] = &["id", "kind", "specie", "comune", "name", "formed_on", "event_id"];
const PERSONS: &[&str] = &["id", "status", "comune", "email", "digital_domicile", "created_at", "updated_at"];
const GENERALITA: &[&str] = &[
    "person_id",
    "valid_from",
    "recorded_at",
    "event_id",
    "surname",
    "given_name",
    "sex",
    "birth_date",
    "birth_date_precision",
    "birth_place",
    "birth_locality",
    "codice_fiscale",
    "cf_validation",
];
const RESIDENCES: &[&str] = &[
    "person_id",
    "valid_from",
    "recorded_at",
    "event_id",
    "abroad",
    "comune",
    "cap",
    "species",
    "toponym",
    "civic",
    "internal",
    "locality",
    "foreign_state",
    "foreign_locality",
    "foreign_address",
    "foreign_postcode",
    "consulate",
];
const CITIZENSHIPS: &[&str] = &["person_id", "country", "valid_from", "recorded_at", "event_id"];
const CIVIL: &[&str] = &["person_id", "status", "valid_from", "recorded_at", "event_id"];
const MEMBERS: &[&str] = &["person_id", "family_id", "relation", "valid_from", "recorded_at", "event_id"];
const DOCUMENTS: &[&str] = &["person_id", "kind", "permit_kind", "number", "issued_on", "expires_on", "issuer", "recorded_at", "event_id"];
const REGISTRY: &[&str] = &["id_anpr", "person_id", "counter", "key_version", "status", "issued_at", "changed_at"];
const DEATHS: &[&str] = &["person_id", "death_date", "death_date_precision", "place", "locality", "recorded_at", "event_id"];

/// Registry rows for IDs generated under `key_version`: `(person_id, counter, id)`.
pub(crate) fn registry_rows(candidates: &[(i64, i64, String)], key_version: i16, now: i64) -> TableRows {
    let mut t = TableRows::new("id_anpr_registry", REGISTRY);
    for (pid, counter, id) in candidates {
        t.push([
            Val::Text(id.clone()),
            Val::Int(*pid),
            Val::Int(*counter),
            Val::Small(key_version),
            Val::Small(1),
            Val::Int(now),
            Val::Int(now),
        ]);
    }
    t
}

/// Flattens a batch; person ids start at `first_person`, family ids at `first_family`
/// (household ids in the batch index its `families`). Parents before children: families first.
pub(crate) fn batch_rows(
    batch: &PopulationBatch,
    first_person: i64,
    first_family: i64,
    event_id: i64,
    now: i64,
) -> crate::Result<Vec<TableRows>> {
    let mut families = TableRows::new("families", FAMILIES);
    for (i, f) in batch.families.iter().enumerate() {
        let (kind, specie) = household_cols(&f.kind);
        families.push([
            Val::Int(first_family + i as i64),
            Val::Text(kind.to_owned()),
            specie.map_or(Val::Null, Val::Small),
            Val::Text(f.comune.to_string()),
            f.name.clone().into(),
            Val::Date(f.formed_on),
            Val::Int(event_id),
        ]);
    }
    let mut persons = TableRows::new("persons", PERSONS);
    let mut generalita = TableRows::new("person_generalita", GENERALITA);
    let mut residences = TableRows::new("person_residences", RESIDENCES);
    let mut citizenships = TableRows::new("person_citizenships", CITIZENSHIPS);
    let mut civil = TableRows::new("person_civil_status", CIVIL);
    let mut members = TableRows::new("family_members", MEMBERS);
    let mut documents = TableRows::new("person_documents", DOCUMENTS);
    let mut deaths = TableRows::new("person_deaths", DEATHS);
    let mut registry = TableRows::new("id_anpr_registry", REGISTRY);
    let nfam = batch.families.len() as i64;
    for (i, p) in batch.persons.iter().enumerate() {
        let id = first_person + i as i64;
        let NewPerson { record: r, residence_since, civil_status_since, household_since, .. } = p;
        let g = &r.generalita;
        if let Some(anpr) = r.id_anpr {
            // An ID issued elsewhere (e.g. carried over at subentro): kept, not generated.
            registry.push([
                Val::Text(anpr.to_string()),
                Val::Int(id),
                Val::Null,
                Val::Small(0),
                Val::Small(1),
                Val::Int(now),
                Val::Int(now),
            ]);
        }
        persons.push([
            Val::Int(id),
            Val::Small(r.status.code()),
            Val::Text(r.residence.competent_comune().to_string()),
            r.email.clone().into(),
            r.digital_domicile.clone().into(),
            Val::Int(now),
            Val::Int(now),
        ]);
        let (bp, bl) = birth_place_cols(&g.birth_place);
        generalita.push([
            Val::Int(id),
            Val::Date(g.birth_date.first_day()),
            Val::Int(now),
            Val::Int(event_id),
            g.name.surname().map(str::to_owned).into(),
            g.name.given().map(str::to_owned).into(),
            Val::Text(g.sex.as_str().to_owned()),
            Val::Date(g.birth_date.first_day()),
            Val::Text(g.birth_date.precision().code().to_owned()),
            Val::Text(bp),
            bl.into(),
            g.codice_fiscale.map(|c| c.to_string()).into(),
            Val::Small(code_of(g.cf_validation)),
        ]);
        let rc = ResidenceCols::from_residence(&r.residence);
        residences.push([
            Val::Int(id),
            Val::Date(*residence_since),
            Val::Int(now),
            Val::Int(event_id),
            Val::Bool(rc.abroad),
            rc.comune.into(),
            rc.cap.into(),
            rc.species.into(),
            rc.toponym.into(),
            rc.civic.into(),
            rc.internal.into(),
            rc.locality.into(),
            rc.foreign_state.into(),
            rc.foreign_locality.into(),
            rc.foreign_address.into(),
            rc.foreign_postcode.into(),
            rc.consulate.into(),
        ]);
        for c in &r.citizenships {
            citizenships.push([
                Val::Int(id),
                Val::Text(c.storage_code()),
                Val::Date(g.birth_date.first_day()),
                Val::Int(now),
                Val::Int(event_id),
            ]);
        }
        civil.push([Val::Int(id), Val::Small(code_of(r.civil_status)), Val::Date(*civil_status_since), Val::Int(now), Val::Int(event_id)]);
        if let Some(h) = r.household {
            let (local, relation) = match h {
                Household::Family { family_id, relation } => (family_id, code_of(relation)),
                Household::Cohabitation { family_id, bond } => (family_id, code_of(bond)),
            };
            if !(0..nfam).contains(&local) {
                return Err(crate::StoreError::Invalid(format!(
                    "person {i} of the batch names household {local}, which the batch does not hold"
                )));
            }
            members.push([
                Val::Int(id),
                Val::Int(first_family + local),
                Val::Small(relation),
                Val::Date(*household_since),
                Val::Int(now),
                Val::Int(event_id),
            ]);
        }
        for d in &r.documents {
            let (kind, permit) = document_kind_cols(&d.kind);
            documents.push([
                Val::Int(id),
                Val::Text(kind.to_owned()),
                permit.map_or(Val::Null, Val::Small),
                Val::Text(d.number.to_string()),
                Val::Date(d.issued_on),
                d.expires_on.map_or(Val::Null, Val::Date),
                d.issuer.clone().into(),
                Val::Int(now),
                Val::Int(event_id),
            ]);
        }
        if let Some(d) = &r.death {
            deaths.push([
                Val::Int(id),
                Val::Date(d.date.first_day()),
                Val::Text(d.date.precision().code().to_owned()),
                d.place.map(|p| p.to_string()).into(),
                d.locality.clone().into(),
                Val::Int(now),
                Val::Int(event_id),
            ]);
        }
    }
    Ok(vec![families, persons, generalita, residences, citizenships, civil, members, documents, deaths, registry])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_binary_has_the_header_rows_and_trailer() {
        let mut t = TableRows::new("t", &["a", "b"]);
        t.push([Val::Int(1), Val::Null]);
        let b = t.copy_binary();
        assert_eq!(&b[..11], b"PGCOPY\n\xff\r\n\0");
        // header 19 bytes + field count 2 + (4 + 8) + 4 + trailer 2
        assert_eq!(b.len(), 19 + 2 + 12 + 4 + 2);
        assert_eq!(&b[b.len() - 2..], &[0xff, 0xff]);
    }
}
