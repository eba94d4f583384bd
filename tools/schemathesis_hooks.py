"""Schemathesis hook for the e-services' contract tests (CI, issue 4).

Every request is signed as a public body's gateway signs it: the hook serialises the body once,
sends exactly those bytes, and asks `anagrafe pdnd headers` for the voucher, the tracking
evidence, the Digest and the Agid-JWT-Signature of those bytes. Environment (not ANAGRAFE_…,
which the binary reads as its configuration):

  PDND_HOOK_BIN            the anagrafe binary
  PDND_HOOK_CLIENT    the public body's client file (the demo's demo-public-body.json)
  PDND_HOOK_ESERVICE  the e-service code under test (C030…)
  PDND_HOOK_CREDENTIALS  the demo's demo-credentials.json: one generated body in two is turned
                         into a request about a demo citizen (known codice fiscale, today's
                         date, the e-service's casoUso), so that answers that find someone are
                         checked against the contract too, not only refusals
"""

import datetime
import json
import os
import subprocess
import zlib

import schemathesis


def _signed_headers(body):
    cmd = [os.environ["PDND_HOOK_BIN"], "pdnd", "headers", "--client", os.environ["PDND_HOOK_CLIENT"], os.environ["PDND_HOOK_ESERVICE"]]
    if body is not None:
        cmd += ["--body", "-"]
    out = subprocess.run(cmd, input=body or b"", capture_output=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"anagrafe pdnd headers failed: {out.stderr.decode(errors='replace')}")
    return json.loads(out.stdout)


def _citizen():
    path = os.environ.get("PDND_HOOK_CREDENTIALS")
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)["citizens"][0]


_CITIZEN = _citizen()


@schemathesis.hook
def map_body(ctx, body):
    if _CITIZEN is None or not isinstance(body, dict):
        return body
    if zlib.crc32(json.dumps(body, sort_keys=True, default=str).encode()) % 2:
        return body
    code = os.environ["PDND_HOOK_ESERVICE"]
    body = dict(body)
    body["criteriRicerca"] = {"codiceFiscale": _CITIZEN["codice_fiscale"]} if code == "C030" else {"idANPR": _CITIZEN["id_anpr"]}
    dati = body.get("datiRichiesta") if isinstance(body.get("datiRichiesta"), dict) else {}
    body["datiRichiesta"] = {**dati, "casoUso": code, "dataRiferimentoRichiesta": datetime.date.today().isoformat(), "motivoRichiesta": "prova contratto"}
    if code == "C004":
        body["verifica"] = {"datiDecesso": {"dataEvento": "2020-01-01"}}
    if not isinstance(body.get("idOperazioneClient"), str) or not body["idOperazioneClient"].isalnum():
        body["idOperazioneClient"] = "st" + str(zlib.crc32(json.dumps(body, sort_keys=True, default=str).encode()))
    return body


@schemathesis.hook
def before_call(ctx, case, kwargs):
    body = None
    if case.method.upper() != "GET":
        value = case.body
        if type(value).__name__ == "NotSet":
            value = {}
        if isinstance(value, (bytes, bytearray)):
            body = bytes(value)
        elif isinstance(value, str):
            body = value.encode("utf-8")
        else:
            body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        kwargs["data"] = body
    headers = dict(case.headers or {})
    for name in list(headers):
        if name.lower() in ("authorization", "digest", "content-type", "agid-jwt-signature", "agid-jwt-trackingevidence"):
            del headers[name]
    headers.update(_signed_headers(body))
    case.headers = headers
