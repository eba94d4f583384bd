//! A form field as the templates draw it (`field.html`): label, input or select, help and the
//! field's own error beside it, so every form's markup (and its accessibility) is one.

/// One option of a select.
#[derive(Clone)]
pub(crate) struct Opt {
    pub(crate) value: String,
    pub(crate) label: String,
}

/// One field of a change form, as the template draws it.
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) label: String,
    /// `text`, `date`, `select` or `textarea`.
    pub(crate) kind: &'static str,
    pub(crate) value: String,
    pub(crate) required: bool,
    pub(crate) maxlength: u16,
    pub(crate) help: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) options: Vec<Opt>,
    /// Bootstrap column class.
    pub(crate) width: &'static str,
}

impl Field {
    pub(crate) fn input(name: &'static str, label: String, maxlength: u16, width: &'static str) -> Self {
        Field {
            name,
            label,
            kind: "text",
            value: String::new(),
            required: false,
            maxlength,
            help: None,
            error: None,
            options: Vec::new(),
            width,
        }
    }

    pub(crate) fn date(name: &'static str, label: String) -> Self {
        Field { kind: "date", ..Self::input(name, label, 0, "col-md-4") }
    }

    /// A text of several lines (a public key in PEM).
    pub(crate) fn text_area(name: &'static str, label: String, maxlength: u16) -> Self {
        Field { kind: "textarea", ..Self::input(name, label, maxlength, "col-12") }
    }

    pub(crate) fn choice(name: &'static str, label: String, options: Vec<Opt>, width: &'static str) -> Self {
        Field { kind: "select", options, ..Self::input(name, label, 0, width) }
    }

    pub(crate) fn required(self) -> Self {
        Field { required: true, ..self }
    }

    pub(crate) fn help(self, text: String) -> Self {
        Field { help: Some(text), ..self }
    }
}

/// The fields with the values typed (at most 300 characters each are shown back) and each
/// field's own error beside it.
pub(crate) fn filled(fields: Vec<Field>, typed: &std::collections::HashMap<String, String>, errors: &[(String, String)]) -> Vec<Field> {
    fields
        .into_iter()
        .map(|mut f| {
            if let Some(v) = typed.get(f.name) {
                f.value = v.chars().take(300).collect();
            }
            f.error = errors.iter().find(|(n, _)| n == f.name).map(|(_, r)| r.clone());
            f
        })
        .collect()
}
