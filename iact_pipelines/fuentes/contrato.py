"""The source contract: the IVR tables the platform reads, their id, the start that places a
row in a local day, and the center column the allowed list filters on.

Its columns are those of `staging.<tabla>` in the catalog, less the local day and hour that
staging derives; the staging load reads it, the source observations too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from iact_pipelines.plataforma import catalogo

if TYPE_CHECKING:
    import pyarrow as pa


def tipo_arrow(tipo_pg: str) -> pa.DataType:
    """The Arrow type of a staging column by its PostgreSQL type in the catalog: what the binary
    COPY encoder (copia_binaria) writes. pyarrow is imported here, not with the contract: loading
    the definitions (the code server, `iact --help`, a step that reads no rows) does without it."""
    import pyarrow as pa

    if tipo_pg.startswith("character varying"):
        return pa.string()
    return {
        catalogo.BIGINT: pa.int64(),
        catalogo.SMALLINT: pa.int16(),
        catalogo.BOOLEAN: pa.bool_(),
        catalogo.DATE: pa.date32(),
        catalogo.TIMESTAMPTZ: pa.timestamp("us", tz="UTC"),
    }[tipo_pg]


# Columns derived in Arrow after the fetch (not read from the source).
COLUMNAS_DERIVADAS = ("fecha", "hora")


@dataclass(frozen=True)
class Fuente:
    """An IVR source table: its id, the start timestamp that places a row in a day, and the
    center column the allowed list filters on. Its columns are `staging.<tabla>`'s in the
    catalog, less the derived local day and hour."""

    tabla: str
    id: str
    inicio: str
    centro: str

    @property
    def catalogo(self) -> catalogo.Tabla:
        return catalogo.tabla(f"staging.{self.tabla}")

    @property
    def columnas(self) -> tuple[str, ...]:
        return tuple(c for c in self.catalogo.nombres() if c not in COLUMNAS_DERIVADAS)

    @property
    def columnas_staging(self) -> tuple[str, ...]:
        return tuple(self.catalogo.nombres())

    @property
    def esquema_staging(self) -> pa.Schema:
        """The Arrow types of `staging.<tabla>`'s columns, as the binary COPY needs them."""
        import pyarrow as pa

        return pa.schema([(c.nombre, tipo_arrow(c.tipo)) for c in self.catalogo.de_negocio()])


FUENTES = {
    "llamadas": Fuente("llamadas", id="llamada_id", inicio="inicio", centro="centro_id"),
    "menu_eventos": Fuente("menu_eventos", id="evento_id", inicio="entrada", centro="centro_id"),
    "transferencias": Fuente("transferencias", id="transferencia_id", inicio="inicio", centro="centro_origen"),
}
