//! The catalogue of e-services the register offers to public bodies through the national data
//! platform (PDND), as ANPR publishes them: a use-case code and the name in the path. The
//! e-services' door mounts them; the administrator's desk checks a purpose names one of them.

/// An e-service of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eservice {
    /// Use-case code (`C030`).
    pub code: &'static str,
    /// Name in the path (`servizioAccertamentoIdUnicoNazionale`).
    pub name: &'static str,
}

impl Eservice {
    /// `C030-servizioAccertamentoIdUnicoNazionale`.
    pub fn segment(&self) -> String {
        format!("{}-{}", self.code, self.name)
    }
}

/// The e-services this register offers.
pub const ESERVICES: &[Eservice] = &[
    Eservice { code: "C001", name: "servizioNotifica" },
    Eservice { code: "C003", name: "servizioVerificaDichGeneralita" },
    Eservice { code: "C004", name: "servizioVerificaDichDecesso" },
    Eservice { code: "C005", name: "servizioVerificaDichStatoMatrimonio" },
    Eservice { code: "C006", name: "servizioVerificaDichCittadinanza" },
    Eservice { code: "C007", name: "servizioVerificaDichEsistenzaVita" },
    Eservice { code: "C008", name: "servizioVerificaDichResidenza" },
    Eservice { code: "C009", name: "servizioVerificaDichStatoFamiglia" },
    Eservice { code: "C010", name: "servizioVerificaDichStatoLibero" },
    Eservice { code: "C011", name: "servizioVerificaDichVedovanza" },
    Eservice { code: "C014", name: "servizioVerificaDichUnioneCivile" },
    Eservice { code: "C015", name: "servizioAccertamentoGeneralita" },
    Eservice { code: "C016", name: "servizioAccertamentoDichDecesso" },
    Eservice { code: "C017", name: "servizioAccertamentoMatrimonio" },
    Eservice { code: "C018", name: "servizioAccertamentoCittadinanza" },
    Eservice { code: "C019", name: "servizioAccertamentoEsistenzaVita" },
    Eservice { code: "C020", name: "servizioAccertamentoResidenza" },
    Eservice { code: "C021", name: "servizioAccertamentoStatoFamiglia" },
    Eservice { code: "C022", name: "servizioAccertamentoStatoLibero" },
    Eservice { code: "C023", name: "servizioAccertamentoVedovanza" },
    Eservice { code: "C026", name: "servizioAccertamentoUnioneCivile" },
    Eservice { code: "C029", name: "servizioAccertamentoDatiAnagrafici" },
    Eservice { code: "C030", name: "servizioAccertamentoIdUnicoNazionale" },
    Eservice { code: "C031", name: "servizioVerificaIdUnicoNazionale" },
    Eservice { code: "C033", name: "servizioAccertamentoResidenzaSenzaDecesso" },
];

/// The e-service a path segment names (`C030-servizio…`; the en dash of ANPR's own C001 URL
/// is accepted too).
pub fn eservice(segment: &str) -> Option<Eservice> {
    let (code, name) = segment.split_once('-').or_else(|| segment.split_once('\u{2013}'))?;
    ESERVICES.iter().copied().find(|e| e.code == code && e.name == name)
}

/// An e-service by its code.
pub fn eservice_by_code(code: &str) -> Option<Eservice> {
    ESERVICES.iter().copied().find(|e| e.code.eq_ignore_ascii_case(code))
}
