#!/usr/bin/env python3
"""Writes crates/anagrafe-server/src/openapi.json, the OpenAPI 3.1 description of the comuni's
web services (/api/v1). Edit here, run it, commit both; a server test checks that the document
and the router list the same routes."""
import json, pathlib

def ref(n): return {"$ref": f"#/components/schemas/{n}"}
def obj(props, required=(), extra=False, desc=None):
    o = {"type": "object", "properties": props, "required": list(required), "additionalProperties": extra}
    if desc: o["description"] = desc
    return o
S = {"type": "string"}
DATE = {"type": "string", "format": "date"}
INT = {"type": "integer"}

schemas = {
    "IdAnpr": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{5}[A-Z]{2}$", "description": "ID ANPR (IDN-1): 2 letters, 5 digits, 1 letter, check character (Luhn mod 36)."},
    "Belfiore": {"type": "string", "pattern": "^[A-Z][0-9]{3}$", "description": "Cadastral (Belfiore) code of a comune, or Z code of a foreign state."},
    "PartialDate": {"type": "string", "description": "YYYY-MM-DD, or YYYY-MM / YYYY when only month or year is known."},
    "PersonName": obj({"surname": {"type": ["string", "null"]}, "given": {"type": ["string", "null"]}}, desc="At least one of surname and given name; null records 'senza cognome' / 'senza nome'."),
    "BirthPlace": {"oneOf": [
        obj({"kind": {"const": "comune"}, "code": ref("Belfiore")}, ["kind", "code"]),
        obj({"kind": {"const": "abroad"}, "state": ref("Belfiore"), "locality": {"type": ["string", "null"]}}, ["kind", "state"])]},
    "Country": {"oneOf": [obj({"kind": {"const": "italia"}}, ["kind"]), obj({"kind": {"const": "foreign"}, "state": ref("Belfiore")}, ["kind", "state"])]},
    "ForeignAddress": obj({"state": ref("Belfiore"), "locality": S, "address": {"type": ["string", "null"]}, "postcode": {"type": ["string", "null"]}, "consulate": {"type": ["string", "null"]}}, ["state", "locality"]),
    "Residence": {"oneOf": [
        obj({"kind": {"const": "italy"}, "comune": ref("Belfiore"), "cap": {"type": ["string", "null"]}, "species": S, "toponym": S, "civic": {"type": ["string", "null"]}, "internal": {"type": ["string", "null"]}, "locality": {"type": ["string", "null"]}}, ["kind", "comune", "species", "toponym"]),
        obj({"kind": {"const": "abroad"}, "address": ref("ForeignAddress"), "aire_comune": ref("Belfiore")}, ["kind", "address", "aire_comune"])]},
    "HouseholdKind": {"oneOf": [obj({"kind": {"const": "family"}}, ["kind"]), obj({"kind": {"const": "cohabitation"}, "specie": {"type": "string", "description": "tab. 27 entry"}}, ["kind", "specie"])]},
    "HouseholdChoice": {"oneOf": [
        obj({"kind": {"const": "new"}, "household": ref("HouseholdKind"), "name": {"type": ["string", "null"]}}, ["kind", "household"], desc="A new household headed by the person."),
        obj({"kind": {"const": "join"}, "family_id": INT, "relation": {"type": "integer", "description": "tab. 05 relation (family) or tab. 06 bond (cohabitation); not 1"}}, ["kind", "family_id", "relation"])]},
    "Death": obj({"date": ref("PartialDate"), "place": {"oneOf": [ref("Belfiore"), {"type": "null"}]}, "locality": {"type": ["string", "null"]}}, ["date"]),
    "ClientOpId": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$", "description": "The client's operation id: the same id with the same body returns the first answer; with another body, 409."},
    "Registration": obj({
        "client_op_id": ref("ClientOpId"), "reason": {"type": "string", "description": "tab. 07 code for a residence in Italy, tab. 19 code (C01…) for AIRE"},
        "reason_description": {"type": ["string", "null"], "maxLength": 256}, "effective_date": DATE, "name": ref("PersonName"),
        "sex": {"enum": ["M", "F"]}, "birth_date": ref("PartialDate"), "birth_place": ref("BirthPlace"),
        "codice_fiscale": {"type": ["string", "null"], "description": "when absent, computed by the register and sent to the Agency for confirmation"},
        "citizenships": {"type": "array", "items": ref("Country"), "minItems": 1}, "civil_status": {"type": "string", "description": "tab. 01 entry name (e.g. CelibeNubile)"},
        "residence": ref("Residence"), "household": ref("HouseholdChoice"), "email": {"type": ["string", "null"]}, "digital_domicile": {"type": ["string", "null"]},
        "origin": {"oneOf": [ref("Belfiore"), {"type": "null"}], "description": "previous comune (immigration) or state (from abroad)"}},
        ["client_op_id", "reason", "effective_date", "name", "sex", "birth_date", "birth_place", "citizenships", "civil_status", "residence", "household"]),
    "ResidenceChange": obj({"client_op_id": ref("ClientOpId"), "effective_date": DATE, "residence": ref("Residence"), "household": {"oneOf": [ref("HouseholdChoice"), {"type": "null"}], "description": "required when the comune changes"}}, ["client_op_id", "effective_date", "residence"],
        desc="Decided by the comune of the new residence (REG-6): within the comune, from another comune (the old one is notified), back from AIRE, or a new address abroad."),
    "Cancellation": obj({"client_op_id": ref("ClientOpId"), "reason": {"type": "integer", "description": "tab. 15 for residents, tab. 28 for AIRE records"}, "reason_description": {"type": ["string", "null"]}, "effective_date": DATE,
        "death": {"oneOf": [ref("Death"), {"type": "null"}]}, "abroad": {"oneOf": [ref("ForeignAddress"), {"type": "null"}], "description": "tab. 15 code 8: emigration, the record moves to the AIRE of the comune"}}, ["client_op_id", "reason", "effective_date"]),
    "GeneralitaChange": obj({"client_op_id": ref("ClientOpId"), "case": {"enum": ["material_error_not_aligned_register_right", "material_error_not_aligned_agency_right", "material_error_aligned", "marriage", "adult_adoption", "sex_change", "on_request"], "description": "IDN-6 cases 1-3"},
        "effective_date": DATE, "name": {"oneOf": [ref("PersonName"), {"type": "null"}]}, "sex": {"enum": ["M", "F", None]}, "birth_date": {"oneOf": [ref("PartialDate"), {"type": "null"}]}, "birth_place": {"oneOf": [ref("BirthPlace"), {"type": "null"}]}, "codice_fiscale": {"type": ["string", "null"]}},
        ["client_op_id", "case", "effective_date"], desc="The ID ANPR stays; a new codice fiscale is recorded linked to the previous one and sent to the Agency (not when the Agency's data are right). Material errors are corrections: they hold for every date."),
    "CivilStatusChange": obj({"client_op_id": ref("ClientOpId"), "effective_date": DATE, "civil_status": S}, ["client_op_id", "effective_date", "civil_status"]),
    "HouseholdMove": obj({"client_op_id": ref("ClientOpId"), "effective_date": DATE, "household": ref("HouseholdChoice")}, ["client_op_id", "effective_date", "household"]),
    "MinorAdoption": obj({"client_op_id": ref("ClientOpId"), "effective_date": DATE, "name": ref("PersonName"), "family_id": INT, "relation": INT}, ["client_op_id", "effective_date", "name", "family_id", "relation"],
        desc="IDN-6 case 4: a new record with a new ID in the adoptive family; the old record is closed and its ID invalid; nothing links them. The answer is not kept: a replay of the same client_op_id gets 409."),
    "RelationsChange": obj({"client_op_id": ref("ClientOpId"), "effective_date": DATE, "members": {"type": "array", "items": obj({"id_anpr": ref("IdAnpr"), "relation": INT}, ["id_anpr", "relation"])}}, ["client_op_id", "effective_date", "members"],
        desc="Every current member exactly once, one with relation 1 (the head / person responsible)."),
    "DuplicateReport": obj({"client_op_id": ref("ClientOpId"), "persons": {"type": "array", "items": ref("IdAnpr"), "minItems": 2, "maxItems": 2}}, ["client_op_id", "persons"], desc="IDN-6 case 5: both IDs are suspended until resolved."),
    "DuplicateResolution": obj({"client_op_id": ref("ClientOpId"), "keep": ref("IdAnpr"), "delete": ref("IdAnpr")}, ["client_op_id", "keep", "delete"], desc="The deleted record's ID is invalid for ever."),
    "Applied": obj({"operation": S, "event_ids": {"type": "array", "items": INT}, "id_anpr": ref("IdAnpr"), "family_id": INT, "codice_fiscale": S, "duplicate_case": INT, "omocodia": {"type": "boolean"}, "notifications": INT, "revenue_messages": INT, "audit_seq": INT}, ["operation", "event_ids", "omocodia", "notifications", "revenue_messages", "audit_seq"], extra=False),
    "PersonView": obj({"id_anpr": ref("IdAnpr"), "id_status": {"enum": ["valid", "suspended"]}, "as_of": DATE, "record": {"type": "object"}}, ["id_anpr", "as_of", "record"]),
    "FamilyView": obj({"id": INT, "kind": ref("HouseholdKind"), "comune": ref("Belfiore"), "formed_on": DATE, "members": {"type": "array", "items": obj({"id_anpr": ref("IdAnpr"), "relation": INT}, ["relation"])}}, ["id", "kind", "comune", "formed_on", "members"]),
    "Feed": obj({"items": {"type": "array", "items": obj({"id": INT, "kind": S, "event_id": INT, "payload": {"type": "object"}, "created_at": INT}, ["id", "kind", "event_id", "payload", "created_at"])}, "next": {"type": "integer", "description": "pass as `after` for the next page"}, "comune": ref("Belfiore")}, ["items", "next"]),
    "Problem": obj({"type": S, "title": S, "status": INT, "detail": S, "request_id": S, "errors": {"type": "array", "items": obj({"field": S, "reason": S}, ["field", "reason"])}}, ["type", "title", "status", "detail", "request_id"], desc="RFC 9457 problem details; `errors` names the fields at fault."),
}

def problem(desc): return {"description": desc, "content": {"application/problem+json": {"schema": ref("Problem")}}}
ERR = {"400": problem("Malformed body or parameter, or the body does not match its Digest (field named)."),
       "401": problem("Missing, invalid, expired or replayed Agid-JWT-Signature; unknown or revoked client."),
       "403": problem("The client's role or comune may not do this (REG-6 competence).")}
WRITE_ERR = dict(ERR, **{"404": problem("No such ID ANPR or household."), "409": problem("The register's state refuses it (field named), or the client_op_id was used with another body."),
                         "422": problem("The data do not hold (field named)."), "503": problem("No ID ANPR issuer configured.")})
SEC = [{"modi": []}]

def write(summary, schema, created=False, desc=None):
    op = {"summary": summary, "security": SEC, "requestBody": {"required": True, "content": {"application/json": {"schema": ref(schema)}}},
          "responses": dict({("201" if created else "200"): {"description": "Applied (a replay of the same client_op_id and body returns the first answer with `Idempotent-Replay: true`).", "content": {"application/json": {"schema": ref("Applied")}}}}, **WRITE_ERR)}
    if desc: op["description"] = desc
    return op

def read(summary, schema, params=(), desc=None):
    op = {"summary": summary, "security": SEC, "parameters": list(params),
          "responses": dict({"200": {"description": "OK", "content": {"application/json": {"schema": ref(schema)}}}}, **ERR, **{"404": problem("Not found (or no record on that date).")})}
    if desc: op["description"] = desc
    return op

ID = {"name": "id_anpr", "in": "path", "required": True, "schema": ref("IdAnpr")}
FAM = {"name": "family_id", "in": "path", "required": True, "schema": INT}
ASOF = {"name": "as_of", "in": "query", "schema": DATE, "description": "Effective date of the view (default today)."}
AFTER = {"name": "after", "in": "query", "schema": INT, "description": "Cursor: 0 or the `next` of the previous page."}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}

paths = {
    "/api/v1/persons": {
        "post": write("Register a person (iscrizione: birth, immigration, AIRE, other reasons of tab. 07/19); the ID ANPR is issued at once", "Registration", True),
        "get": read("Find persons by codice fiscale (as of a date)", "PersonView", [{"name": "codice_fiscale", "in": "query", "required": True, "schema": S}, ASOF]),
    },
    "/api/v1/persons/{id_anpr}": {"get": read("A person's record as of a date", "PersonView", [ID, ASOF], "410 when the ID is no longer valid.")},
    "/api/v1/persons/{id_anpr}/residence": {"post": write("Change of residence (tab. 47)", "ResidenceChange")},
    "/api/v1/persons/{id_anpr}/cancellation": {"post": write("Cancellation (tab. 15; tab. 28 for AIRE): death, emigration to AIRE, other reasons", "Cancellation")},
    "/api/v1/persons/{id_anpr}/generalita": {"post": write("Change of personal data (IDN-6 cases 1-3)", "GeneralitaChange")},
    "/api/v1/persons/{id_anpr}/civil-status": {"post": write("Change of civil status", "CivilStatusChange")},
    "/api/v1/persons/{id_anpr}/household": {"post": write("Join another household or leave to form a new one", "HouseholdMove")},
    "/api/v1/persons/{id_anpr}/minor-adoption": {"post": write("Adoption of a minor (IDN-6 case 4)", "MinorAdoption", True)},
    "/api/v1/families/{family_id}": {"get": read("A household and its members as of a date", "FamilyView", [FAM, ASOF])},
    "/api/v1/families/{family_id}/relations": {"post": write("Change of head or of relations in a household", "RelationsChange")},
    "/api/v1/duplicates": {"post": write("Report two records of one person (IDN-6 case 5)", "DuplicateReport", True)},
    "/api/v1/duplicates/resolution": {"post": write("Resolve a duplicate: one record deleted, its ID invalid for ever", "DuplicateResolution")},
    "/api/v1/duplicates/dismissal": {"post": write("Dismiss a duplicate report (two different persons): both IDs valid again; either comune concerned may", "DuplicateReport")},
    "/api/v1/notifications": {"get": read("The calling comune's notifications (REG-5), oldest first", "Feed", [AFTER, LIMIT])},
    "/api/v1/revenue-agency/outbox": {"get": read("Communications to the Revenue Agency (role revenue_agency)", "Feed", [AFTER, LIMIT])},
    "/api/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    "/api/register-key": {"get": {"summary": "The register's public key (SPKI PEM): verifies the Agid-JWT-Signature of notification pushes (kid `anagrafe`, aud = the client id)", "security": [],
        "responses": {"200": {"description": "PEM", "content": {"application/x-pem-file": {}}}, "404": problem("No signing key configured.")}}},
}
# Certificates (issue 5): citizens with their session (about themselves only) or registry
# offices (signed, or an officer's session).
schemas["CertificateRequest"] = obj({
    "person": ref("IdAnpr"),
    "types": {"type": "array", "minItems": 1, "items": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 20}, S]},
              "description": "Tab. 13 codes or names (residenza, stato-di-famiglia…); several make a combined certificate."},
    "reference_date": {**DATE, "description": "Type 20 only."},
    "lang": {"type": "string", "enum": ["it", "de", "fr", "sl"], "description": "Second language; default the comune's own; it = Italian only."},
    "confirm": {"type": "boolean", "description": "Must be true to issue."},
    "stamp": {"oneOf": [
        obj({"kind": {"const": "paid"}, "payment_id": S}, ["kind", "payment_id"]),
        obj({"kind": {"const": "exempt"}, "code": {**INT, "description": "Tab. 39"}, "description": {"type": "string", "maxLength": 256, "description": "Required with code 99."}}, ["kind", "code"]),
    ]},
}, ["person", "types"])
schemas["IssuedCertificate"] = obj({"id": S, "types": {"type": "array", "items": INT}, "langs": {"type": "array", "items": S}, "issued_at": INT,
                                    "expires_on": DATE, "sha256": S, "pdf": S}, ["id", "types", "langs", "issued_at", "expires_on", "sha256", "pdf"], extra=False)
CERT_SEC = [{"modi": []}, {"session": []}]
CERT_ERR = {"400": problem("A field is missing or invalid (named in errors[].field)."), "401": problem("No valid signature or session."),
            "403": problem("Citizens obtain certificates about themselves only; registry offices only."), "404": problem("No person with this ID ANPR."),
            "422": problem("Not issuable: `code` is ANPR's code of the blocking check (EN044, EN137…).")}
CERT_BODY = {"required": True, "content": {"application/json": {"schema": ref("CertificateRequest")}}}
paths["/api/v1/certificates/preview"] = {"post": {"summary": "Preview (CRT-3): the layout with ANTEPRIMA, no QR code, nothing stored", "security": CERT_SEC,
    "requestBody": CERT_BODY, "responses": {"200": {"description": "The preview", "content": {"application/pdf": {}}}, **CERT_ERR}}}
paths["/api/v1/certificates"] = {
    "post": {"summary": "Issue a sealed certificate (CRT-4) after confirmation, with the stamp duty paid or an exemption", "security": CERT_SEC, "requestBody": CERT_BODY,
             "responses": {"201": {"description": "Issued", "content": {"application/json": {"schema": ref("IssuedCertificate")}}},
                           "409": problem("The stamp-duty payment is unknown, not yours or already used (stamp.payment_id)."), **CERT_ERR}},
    "get": {"summary": "The citizen's own certificates, or for a registry office those it issued about `person`", "security": CERT_SEC,
            "parameters": [{"name": "person", "in": "query", "schema": ref("IdAnpr")}],
            "responses": {"200": {"description": "List", "content": {"application/json": {"schema": {"type": "object"}}}}, **CERT_ERR}}}
paths["/api/v1/certificates/{id}/pdf"] = {"get": {"summary": "The sealed certificate (its holder, or the office that issued it)", "security": CERT_SEC,
    "parameters": [{"name": "id", "in": "path", "required": True, "schema": S}],
    "responses": {"200": {"description": "The sealed PDF", "content": {"application/pdf": {}}}, "410": problem("Expired and deleted."), **CERT_ERR}}}
paths["/api/v1/certificates/{id}/email"] = {"post": {"summary": "Send a copy to the holder's e-mail address or digital domicile on record (CRT-6)", "security": CERT_SEC,
    "parameters": [{"name": "id", "in": "path", "required": True, "schema": S}],
    "requestBody": {"required": False, "content": {"application/json": {"schema": obj({"to": {"type": "string", "enum": ["email", "digital_domicile"]}})}}},
    "responses": {"202": {"description": "Queued", "content": {"application/json": {"schema": {"type": "object"}}}},
                  "409": problem("The register holds no such address for the holder (to)."), "410": problem("Expired and deleted."), **CERT_ERR}}}
paths["/api/v1/payments/stamp-duty"] = {"post": {"summary": "Pay the € 16 stamp duty through the local payment interface (embedded mode)", "security": CERT_SEC,
    "responses": {"201": {"description": "Paid", "content": {"application/json": {"schema": obj({"payment_id": S, "amount_cents": INT, "provider": S}, ["payment_id", "amount_cents", "provider"])}}},
                  "400": CERT_ERR["400"], "401": CERT_ERR["401"], "403": CERT_ERR["403"]}}}

for p, ops in paths.items():
    for m, op in ops.items():
        if "{id_anpr}" in p and m == "post": op["parameters"] = [ID]
        if "{family_id}" in p and m == "post": op["parameters"] = [FAM]

doc = {
    "openapi": "3.1.0",
    "info": {"title": "Anagrafe — web services for comuni", "version": "1",
             "description": "Registry operations, reads as of a date, notifications. Every request is signed in the style of ModI INTEGRITY_REST_02: a `Digest` header (SHA-256 of the body, also when empty) and an `Agid-JWT-Signature` JWS (ES256, `kid` = client id, claims iss/aud/iat/exp/jti and `signed_headers` with the digest and, with a body, the content-type). See docs/api.md."},
    "paths": paths,
    "components": {"schemas": schemas, "securitySchemes": {
        "modi": {"type": "apiKey", "in": "header", "name": "Agid-JWT-Signature", "description": "JWS over the Digest header (INTEGRITY_REST_02 style)."},
        "session": {"type": "apiKey", "in": "cookie", "name": "__Host-anagrafe-session", "description": "A citizen's (OpenID Connect) or registry officer's session; writes also carry the X-CSRF-Token header."}}},
}
out = pathlib.Path(__file__).resolve().parent.parent / "crates/anagrafe-server/src/openapi.json"
out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
print(out)
