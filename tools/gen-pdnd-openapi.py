#!/usr/bin/env python3
"""Writes crates/anagrafe-server/src/pdnd/openapi.json, the OpenAPI 3.0 description of the
e-services for public bodies (/pdnd), served at /pdnd/openapi.json (INT-2).

Built from ANPR's published contracts (../shared/specs/anpr-pdnd/, third-party copies of the
Ministry's "Specifica API_C0xx" files; see their SOURCES.txt): the E002 schemas of every copy are
merged (a type named in several copies gets the union of its properties), the register's own
additions are added (marked x-anagrafe), and every e-service of the catalogue gets its two paths.
Needs PyYAML. Run from the repository root after changing ESERVICES in pdnd/mod.rs; a server test
checks that the document lists every e-service."""
import json, pathlib, re, yaml

root = pathlib.Path(__file__).resolve().parent.parent
specs = sorted((root.parent / "shared" / "specs" / "anpr-pdnd").glob("*.y*ml"))
src = (root / "crates/anagrafe-server/src/pdnd/mod.rs").read_text()
eservices = re.findall(r'Eservice \{ code: "(C\d+)", name: "(\w+)" \}', src)

schemas, security = {}, {}
for spec in specs:
    doc = yaml.safe_load(spec.read_text())
    security.update(doc["components"].get("securitySchemes", {}))
    for name, s in doc["components"]["schemas"].items():
        if name not in schemas:
            schemas[name] = json.loads(json.dumps(s))
        elif "properties" in s:
            schemas[name].setdefault("properties", {}).update(s["properties"])

def own(desc, s):
    s = dict(s)
    s["description"] = desc
    s["x-anagrafe"] = True
    return s

S = {"type": "string"}
schemas["TipoCittadinanza"] = own("A citizenship by the state's ISTAT code (100: Italy).", {"type": "object", "properties": {"codiceStato": S, "descrizioneStato": S}})
schemas["TipoMembroDichiarato"] = own("A member of a declared household (C009), by codice fiscale or ID ANPR.", {"type": "object", "properties": {"codiceFiscale": S, "idANPR": S}})
schemas["TipoVerificaGeneralita"] = own("Personal data declared for a check (C003, C031).", {"type": "object", "properties": {k: S for k in ["codiceFiscale", "cognome", "senzaCognome", "nome", "senzaNome", "sesso", "dataNascita", "senzaGiorno", "senzaGiornoMese"]}})
ver = schemas.setdefault("TipoVerificaE002", {"type": "object", "properties": {}})
ver["properties"].update({
    "generalita": {"$ref": "#/components/schemas/TipoVerificaGeneralita"},
    "cittadinanza": {"type": "array", "items": {"$ref": "#/components/schemas/TipoCittadinanza"}},
    "residenza": {"description": "A TipoResidenza, or a list of one (C008).", "x-anagrafe": True},
    "statoFamiglia": {"type": "array", "items": {"$ref": "#/components/schemas/TipoMembroDichiarato"}},
})
schemas["TipoDatiSoggettiEnte"]["properties"]["cittadinanza"] = {"type": "array", "items": {"$ref": "#/components/schemas/TipoCittadinanza"}}
schemas["RichiestaE002"]["properties"]["verifica"] = {"$ref": "#/components/schemas/TipoVerificaE002"}
schemas["TipoCriteriRicercaE002"]["properties"]["idANPR"] = {"type": "string", "description": "Identificativo Unico Nazionale"}

def ko(desc):
    return {"description": desc, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/RispostaKO"}}}}

paths = {}
for code, name in eservices:
    seg = f"/{code}-{name}/v1"
    paths[seg + "/anpr-service-e002"] = {"post": {
        "operationId": f"e002_{code}", "summary": f"{code} {name}", "tags": [code],
        "security": [{"bearerAuth": [], "Agid-JWT-Signature": [], "Agid-JWT-TrackingEvidence": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RichiestaE002"}}}},
        "responses": {
            "200": {"description": "Caso d'uso trovato", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RispostaE002OK"}}}},
            "400": ko("Caso d'uso invalido"), "401": ko("Voucher, signature or tracking evidence missing or not valid; jti replayed"),
            "403": ko("Purpose not authorised for this e-service"), "404": ko("Caso d'uso non trovato"),
            "409": ko("idOperazioneClient used before for another request or e-service"), "429": ko("The purpose's call limits"),
            "500": ko("Internal Server Error")}}}
    paths[seg + "/status"] = {"get": {
        "operationId": f"status_{code}", "summary": f"{code} status", "tags": [code], "security": [{"bearerAuth": []}],
        "responses": {"200": ko("The e-service answers"), "401": ko("No valid voucher for this e-service")}}}
paths["/token.oauth2"] = {"post": {
    "operationId": "token", "summary": "Embedded mode only: a voucher (client credentials, private_key_jwt)", "tags": ["voucher"], "security": [],
    "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object",
        "required": ["grant_type", "client_id", "client_assertion_type", "client_assertion"],
        "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]}, "client_id": S,
                       "client_assertion_type": {"type": "string", "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]}, "client_assertion": S}}}}},
    "responses": {"200": {"description": "The voucher", "content": {"application/json": {"schema": {"type": "object",
        "properties": {"access_token": S, "token_type": S, "expires_in": {"type": "integer"}}}}}},
        "400": {"description": "A form field is missing or wrong (problem+json naming it)"},
        "401": {"description": "The client assertion is refused"}, "404": {"description": "Vouchers come from the national platform (production)"}}}}

doc = {
    "openapi": "3.0.3",
    "info": {"title": "Anagrafe: e-services for public bodies (E002)", "version": "1.0.0",
             "description": "ANPR-compatible e-services behind ModI security (voucher, INTEGRITY_REST_02, AUDIT_REST_02). Schemas merged from ANPR's published contracts; x-anagrafe marks the register's additions. See docs/pdnd.md."},
    "servers": [{"url": "/pdnd"}],
    "paths": paths,
    "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": security},
}
out = root / "crates/anagrafe-server/src/pdnd/openapi.json"
out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
print(f"{out.relative_to(root)}: {len(eservices)} e-services, {len(schemas)} schemas")
