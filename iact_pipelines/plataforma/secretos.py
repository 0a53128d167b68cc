"""Masking of passwords in any text before a person or a table sees it."""

from __future__ import annotations

import os
import re
from urllib.parse import unquote

# Every form a libpq password takes in text: a URL's userinfo (up to the last @ before the
# host), a `password=` or `sslpassword=` parameter of a URL query or a key=value DSN (bare or
# single-quoted with backslash escapes).
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s/?#@:]*:)[^\s/?#]*(@)", re.IGNORECASE)
_PARAMETRO = re.compile(r"(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'\"]+)", re.IGNORECASE)
# Settings whose value may carry a password that then shows up bare in a message.
_CON_SECRETOS = ("IACT_IVR_URL", "IACT_WAREHOUSE_URL", "DAGSTER_PG_URL", "PGPASSWORD")
_SECRETO_MINIMO = 4  # shorter literals would mask ordinary words; their URL forms still are


def _secretos_configurados() -> set[str]:
    """The passwords the environment holds (URL userinfo, query or DSN parameter, PGPASSWORD),
    as written and percent-decoded."""
    secretos: set[str] = set()
    for name in _CON_SECRETOS:
        valor = os.environ.get(name, "")
        if not valor:
            continue
        if name == "PGPASSWORD":
            secretos.add(valor)
            continue
        secretos.update(m.group(0)[len(m.group(1)) : -1] for m in _USERINFO.finditer(valor))
        for m in _PARAMETRO.finditer(valor):
            crudo = m.group(2)
            secretos.add(crudo)
            if crudo.startswith("'"):
                secretos.add(re.sub(r"\\(.)", r"\1", crudo[1:-1]))
    return {v for s in secretos for v in (s, unquote(s)) if len(v) >= _SECRETO_MINIMO}


def redact(texto: str) -> str:
    """The text with every password replaced by ***: in URLs, query parameters, key=value
    DSNs, and any configured password appearing bare. The one masking function for every
    surface (CLI errors, step failures, etl_jobs, alerts)."""
    texto = _USERINFO.sub(r"\1***\2", str(texto))
    texto = _PARAMETRO.sub(r"\1***", texto)
    for secreto in sorted(_secretos_configurados(), key=len, reverse=True):
        texto = texto.replace(secreto, "***")
    return texto
