//! The E002 messages of ANPR's published e-service contracts (`RichiestaE002`,
//! `RispostaE002OK`, `RispostaKO`), field for field. Requests are read leniently (every field
//! optional, so that a missing one gets ANPR's own error code rather than a parse failure);
//! answers serialise only the fields that hold a value.

use serde::{Deserialize, Serialize};

/// `RichiestaE002`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RichiestaE002 {
    /// The body's own operation id (replays get the first answer).
    pub id_operazione_client: Option<String>,
    /// Who the request is about.
    pub criteri_ricerca: Option<CriteriRicerca>,
    /// What the body declares and asks to be verified (C003–C014, C031).
    pub verifica: Option<Verifica>,
    /// The reference date, the use case and the stated purpose.
    pub dati_richiesta: Option<DatiRichiesta>,
}

/// `TipoCriteriRicercaE002`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CriteriRicerca {
    /// Codice fiscale.
    pub codice_fiscale: Option<String>,
    /// ID ANPR.
    #[serde(rename = "idANPR")]
    pub id_anpr: Option<String>,
    /// Surname.
    pub cognome: Option<String>,
    /// `S` for a person without a surname.
    pub senza_cognome: Option<String>,
    /// Name.
    pub nome: Option<String>,
    /// `S` for a person without a name.
    pub senza_nome: Option<String>,
    /// `M` or `F`.
    pub sesso: Option<String>,
    /// Birth data.
    pub dati_nascita: Option<DatiNascita>,
}

/// `TipoDatiNascitaE000`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatiNascita {
    /// `YYYY-MM-DD` (with the flags, only the year or the year and month count).
    pub data_evento: Option<String>,
    /// `S`: the day is not known.
    pub senza_giorno: Option<String>,
    /// `S`: neither day nor month is known.
    pub senza_giorno_mese: Option<String>,
    /// Place of birth.
    pub luogo_nascita: Option<LuogoNascita>,
}

/// `TipoLuogoNascita3000` / `TipoLuogoEvento`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LuogoNascita {
    /// Exceptional place (at sea, in flight…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub luogo_eccezionale: Option<String>,
    /// Comune in Italy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comune: Option<TipoComune>,
    /// Place abroad.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub localita: Option<TipoLocalita>,
}

/// `TipoComune`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TipoComune {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nome_comune: Option<String>,
    /// ISTAT code (six digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codice_istat: Option<String>,
    /// Province abbreviation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sigla_provincia_istat: Option<String>,
    /// Locality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descrizione_localita: Option<String>,
}

/// `TipoLocalita`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TipoLocalita {
    /// Locality.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descrizione_localita: Option<String>,
    /// State name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descrizione_stato: Option<String>,
    /// ISTAT code of the state (three digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codice_stato: Option<String>,
    /// Province or county.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provincia_contea: Option<String>,
}

/// `TipoDatiRichiestaE002`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatiRichiesta {
    /// The date the record is read as of.
    pub data_riferimento_richiesta: Option<String>,
    /// The body's file or protocol number the request is made for (mandatory).
    pub motivo_richiesta: Option<String>,
    /// The use case (the e-service code, e.g. `C030`).
    pub caso_uso: Option<String>,
}

/// `TipoVerificaE002`: the declared data to verify. The C004 contract declares `datiDecesso`;
/// C031 takes the personal data to match against the ID (see `docs/pdnd.md`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verifica {
    /// Declared death (C004).
    pub dati_decesso: Option<DatiEvento>,
    /// Declared personal data (C003; C031 "Dati validi").
    pub generalita: Option<VerificaGeneralita>,
    /// Declared citizenships (C006).
    pub cittadinanza: Option<Vec<Cittadinanza>>,
    /// Declared residence (C008): an object or a list of one, shaped as `TipoResidenza`.
    pub residenza: Option<serde_json::Value>,
    /// Declared household (C009): its members, each by `codiceFiscale` (or `idANPR`).
    pub stato_famiglia: Option<Vec<MembroDichiarato>>,
}

/// A member of a declared household (C009).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MembroDichiarato {
    /// Codice fiscale.
    #[serde(rename = "codiceFiscale")]
    pub codice_fiscale: Option<String>,
    /// ID ANPR.
    #[serde(rename = "idANPR")]
    pub id_anpr: Option<String>,
}

/// `TipoCittadinanza`: a citizenship by the state's ISTAT code (`100` Italy).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cittadinanza {
    /// ISTAT code of the state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codice_stato: Option<String>,
    /// Name of the state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descrizione_stato: Option<String>,
}

/// Personal data declared for a check.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificaGeneralita {
    /// Codice fiscale.
    pub codice_fiscale: Option<String>,
    /// Surname.
    pub cognome: Option<String>,
    /// `S` without a surname.
    pub senza_cognome: Option<String>,
    /// Name.
    pub nome: Option<String>,
    /// `S` without a name.
    pub senza_nome: Option<String>,
    /// `M` or `F`.
    pub sesso: Option<String>,
    /// `YYYY-MM-DD`.
    pub data_nascita: Option<String>,
    /// `S`: the day is not known.
    pub senza_giorno: Option<String>,
    /// `S`: neither day nor month is known.
    pub senza_giorno_mese: Option<String>,
}

/// `TipoDatiEvento`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatiEvento {
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_evento: Option<String>,
    /// `S`: the day is not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub senza_giorno: Option<String>,
    /// `S`: neither day nor month is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub senza_giorno_mese: Option<String>,
    /// Where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub luogo_evento: Option<LuogoNascita>,
}

/// `TipoErroriAnomalia`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErroreAnomalia {
    /// ANPR's code (`tab_elenco_errori_anpr`).
    pub codice_errore_anomalia: String,
    /// `E` error, `W` warning.
    pub tipo_errore_anomalia: String,
    /// The text.
    pub testo_errore_anomalia: String,
    /// The request field concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campo_errore_anomalia: Option<String>,
    /// The value at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valore_errore_anomalia: Option<String>,
}

/// `RispostaE002OK`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RispostaOk {
    /// The register's id of this operation.
    #[serde(rename = "idOperazioneANPR")]
    pub id_operazione_anpr: String,
    /// The subjects found.
    pub lista_soggetti: ListaSoggetti,
    /// Warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lista_anomalie: Vec<ErroreAnomalia>,
}

/// `TipoListaSoggetti`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListaSoggetti {
    /// One entry per subject.
    pub dati_soggetto: Vec<DatiSoggetto>,
}

/// `TipoDatiSoggettiEnte`: each e-service fills only the parts its contract names (SEC-6).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatiSoggetto {
    /// Personal data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generalita: Option<Generalita>,
    /// Citizenships.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cittadinanza: Option<Vec<Cittadinanza>>,
    /// Residence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residenza: Option<Vec<Residenza>>,
    /// The ID ANPR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identificativi: Option<Identificativi>,
    /// Death.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dati_decesso: Option<DatiEvento>,
    /// Bond with the household.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legame_soggetto: Option<LegameSoggetto>,
    /// Yes/no answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_soggetto_ente: Option<Vec<InfoSoggettoEnte>>,
}

/// `TipoGeneralita`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Generalita {
    /// Codice fiscale and its validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codice_fiscale: Option<TipoCodiceFiscale>,
    /// Surname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cognome: Option<String>,
    /// `S` without a surname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub senza_cognome: Option<String>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nome: Option<String>,
    /// `S` without a name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub senza_nome: Option<String>,
    /// `M` or `F`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sesso: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_nascita: Option<String>,
    /// `S`: the day is not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub senza_giorno: Option<String>,
    /// `S`: neither day nor month is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub senza_giorno_mese: Option<String>,
    /// Place of birth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub luogo_nascita: Option<LuogoNascita>,
    /// `S` for a person in the AIRE.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(rename = "soggettoAIRE")]
    pub soggetto_aire: Option<String>,
}

/// `TipoCodiceFiscale`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TipoCodiceFiscale {
    /// The code.
    #[serde(rename = "codFiscale")]
    pub cod_fiscale: String,
    /// `1` validated, `9` not validated (tab. 22).
    #[serde(rename = "validitaCF")]
    pub validita_cf: String,
}

/// `TipoIdentificativi`.
#[derive(Debug, Clone, Serialize)]
pub struct Identificativi {
    /// The ID ANPR.
    #[serde(rename = "idANPR")]
    pub id_anpr: String,
}

/// `TipoResidenza`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Residenza {
    /// `1` residence (tab. 4 kind of address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tipo_indirizzo: Option<String>,
    /// Address in Italy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indirizzo: Option<Indirizzo>,
    /// Address abroad.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub localita_estera: Option<serde_json::Value>,
    /// "Care of".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presso: Option<String>,
    /// Since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_decorrenza_residenza: Option<String>,
}

/// `TipoIndirizzo`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Indirizzo {
    /// Postcode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<String>,
    /// Comune.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comune: Option<TipoComune>,
    /// Hamlet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frazione: Option<String>,
    /// Street.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub toponimo: Option<Toponimo>,
    /// Number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numero_civico: Option<NumeroCivico>,
}

/// `TipoToponimo`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Toponimo {
    /// Kind of street (VIA, PIAZZA…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specie: Option<String>,
    /// Street name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denominazione_toponimo: Option<String>,
}

/// `TipoNumeroCivico`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NumeroCivico {
    /// Number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numero: Option<String>,
    /// Internal (flat) number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub civico_interno: Option<serde_json::Value>,
}

/// `TipoLegameSoggettoCompleto`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LegameSoggetto {
    /// `1` family, `2` cohabitation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tipo_legame: Option<String>,
    /// Relation code (tab. 05) or bond (tab. 06).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codice_legame: Option<String>,
    /// Member number in the household.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progressivo_componente: Option<String>,
    /// Since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_decorrenza: Option<String>,
}

/// `TipoInfoSoggettoEnte`: a yes/no answer (`valore` S, N, or A: not applicable).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoSoggettoEnte {
    /// Sequence.
    pub id: String,
    /// What is answered.
    pub chiave: String,
    /// `S`, `N` or `A` (yes/no answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valore: Option<String>,
    /// A text answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valore_testo: Option<String>,
    /// A date answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valore_data: Option<String>,
    /// Details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dettaglio: Option<String>,
}
