"""Validation of the extracted IVR frames with pandera, and its failures as error rows.

One pandera schema per table holds every rule, vectorized: the column rules (required, unique
id, maximum length, center format, allowed values) derived from the table's catalog entry, the
row rules declared here. Each check is named after its rule, plus `:<field>` when the rule spans several columns (the field is
then the column that breaks it), so a failure case alone says rule, field and row.
Severities: `error` (row rejected), `warning` (row loaded and recorded); anything pandera
reports that is not one of these rules (a missing column, a value that cannot be read as
its type, a check that could not even run) makes the frame unusable: `critical`.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.compute as pc

from iact_pipelines.fuentes.contrato import COLUMNAS_DERIVADAS, FUENTES, Fuente
from iact_pipelines.plataforma import catalogo

ERROR = "error"
WARNING = "warning"
CRITICAL = "critical"
_ORDEN_SEVERIDAD = {CRITICAL: 0, ERROR: 1, WARNING: 2}

SEVERIDAD = {
    "nulo_requerido": ERROR,
    "resultado_desconocido": ERROR,
    "centro_malformado": ERROR,
    "orden_tiempos": ERROR,
    "resultado_inconsistente": ERROR,
    "id_duplicado": ERROR,
    "duracion_excesiva": ERROR,
    "valor_demasiado_largo": ERROR,
    "fecha_fuera_de_rango": ERROR,  # found in Arrow before pandas: extraccion.sin_fechas_imposibles
    "cliente_no_identificado": WARNING,
    "espera_excesiva": WARNING,
}
COLUMNA_FALTANTE = "columna_faltante"
TIPO_INVALIDO = "tipo_invalido"
CHECK_FALLIDO = "check_fallido"

RESULTADOS_LLAMADA = catalogo.tabla("staging.llamadas").columna("resultado").valores
MAX_DURACION = pd.Timedelta(hours=24)
MAX_ESPERA = pd.Timedelta(hours=1)

# Messages per rule (and field); `{campo}` is the field, `{valor}` the offending value.
_MENSAJES = {
    "nulo_requerido": "{campo} es obligatorio y viene NULL",
    "resultado_desconocido": "{campo} {valor} no es un resultado conocido",
    "centro_malformado": "{campo} {valor} no es un código de centro de 8 dígitos",
    "id_duplicado": "{campo} aparece más de una vez en la extracción",
    ("id_duplicado", "llamada_id,menu_id,entrada"): "la misma visita a un menú (llamada_id, menu_id, entrada) "
    "está registrada más de una vez; se rechazan las copias posteriores",
    ("id_duplicado", "llamada_id,inicio"): "la misma transferencia (llamada_id, inicio) está registrada más de "
    "una vez; se rechazan las copias posteriores",
    "orden_tiempos": "{campo} es anterior a la marca de tiempo previa (inicio <= ingreso_cola <= atencion <= fin)",
    ("orden_tiempos", "salida"): "salida es anterior a entrada",
    ("orden_tiempos", "fin"): "fin es anterior a la marca de tiempo previa",
    ("resultado_inconsistente", "ingreso_cola"): "ingreso_cola no concuerda con resultado "
    "(ATENDIDA y ABANDONADA entraron a la cola, IVR no)",
    ("resultado_inconsistente", "atencion"): "atencion no concuerda con resultado "
    "(solo las llamadas ATENDIDA fueron contestadas por un agente)",
    ("resultado_inconsistente", "fin"): "exitosa es verdadero pero fin es NULL (una transferencia exitosa se conectó)",
    "duracion_excesiva": "la llamada dura más de 24 h (fin - inicio)",
    "valor_demasiado_largo": "{campo} es más largo de lo que admite su columna de staging",
    "fecha_fuera_de_rango": "{campo} {valor} está fuera de los instantes que puede tener una llamada (1900 a 2199)",
    "cliente_no_identificado": "cliente_id es NULL: llamante no identificado",
    (
        "espera_excesiva",
        "atencion",
    ): "esperó más de 1 h en cola antes de que contestara un agente (atencion - ingreso_cola)",
    ("espera_excesiva", "fin"): "esperó más de 1 h en cola antes de colgar (fin - ingreso_cola)",
}


def _no_nulo(s: pd.Series) -> pd.Series:
    return s.notna()


def _centro_valido(s: pd.Series) -> pd.Series:
    # A day holds a handful of distinct codes: match each once (a regex per row of a 2.4M-row
    # day cost 0.34 s), then spread the verdicts through the codes (NULL -> -1 -> False).
    codigos, distintos = pd.factorize(s)
    validos = np.append(
        pd.Series(distintos, dtype=object).str.fullmatch(catalogo.CODIGO_CENTRO).fillna(False).to_numpy(bool), False
    )
    return pd.Series(validos[codigos], index=s.index)


def _sin_repetir(s: pd.Series) -> pd.Series:
    # Every copy of a repeated id is rejected: nothing tells which copy is the true one.
    return ~s.duplicated(keep=False)


def _copias_posteriores(df: pd.DataFrame, claves: list[str], id_col: str) -> pd.Series:
    """True for the rows to keep: unique on `claves`, or the lowest id of their group (the
    first one logged). Decided by id, not by row order, so a re-run rejects the same rows."""
    ok = pd.Series(True, index=df.index)
    completas = df[claves].notna().all(axis=1)
    # Narrow down on the numeric keys first (cheap to hash), then compare text keys there only.
    numericas = [c for c in claves if not pd.api.types.is_string_dtype(df[c])]
    candidatas = completas
    if numericas and len(numericas) < len(claves):
        candidatas = completas & df[numericas].duplicated(keep=False)
    repetidas = df.loc[candidatas, claves].duplicated(keep=False)
    if repetidas.any():
        grupo = df.loc[repetidas[repetidas].index, [*claves, id_col]]
        primero = grupo.groupby(claves, dropna=False)[id_col].transform("min")
        # a copy without an id cannot be the first logged (nulo_requerido rejects it too)
        ok.loc[grupo.index[(grupo[id_col] != primero).to_numpy(dtype=bool, na_value=True)]] = False
    return ok


# The rules that compare rows with each other (id_duplicado): (field as reported, key columns,
# id column for "later copies" or None for "every copy"). The schemas check them within a frame;
# a day validated in chunks applies them once, over the whole day's keys (`duplicados`).
DUPLICADOS: dict[str, list[tuple[str, list[str], str | None]]] = {
    "llamadas": [("llamada_id", ["llamada_id"], None)],
    "menu_eventos": [
        ("evento_id", ["evento_id"], None),
        ("llamada_id,menu_id,entrada", ["llamada_id", "menu_id", "entrada"], "evento_id"),
    ],
    "transferencias": [
        ("transferencia_id", ["transferencia_id"], None),
        ("llamada_id,inicio", ["llamada_id", "inicio"], "transferencia_id"),
    ],
}


def _cabe_en(largo: int):
    # A legacy source may widen a column: an over-long value is one rejected row, never a
    # failed day (the COPY into varchar(n) would raise StringDataRightTruncation).
    def cabe(s: pd.Series) -> pd.Series:
        return (s.str.len() <= largo).fillna(True).astype(bool)

    return cabe


def _uno_de(valores: tuple[str, ...]):
    def conocido(s: pd.Series) -> pd.Series:
        return s.isin(valores)

    return conocido


_TIPOS = {
    catalogo.BIGINT: pd.Int64Dtype(),
    catalogo.BOOLEAN: pd.BooleanDtype(),
    catalogo.TIMESTAMPTZ: pd.DatetimeTZDtype(unit="us", tz="UTC"),
}


def _reglas_de_columna(fuente: Fuente, columna: catalogo.Columna) -> list[pa.Check]:
    """The rules a column's catalog entry implies, in this order: nulo_requerido (NOT NULL,
    unless the extraction already guarantees a value: the window's start), id_duplicado (a source id), valor_demasiado_largo (free text of a varchar(n)),
    centro_malformado (the center code format) and resultado_desconocido (allowed values)."""
    reglas = []
    if not columna.nula and columna.nombre != fuente.inicio:
        reglas.append(pa.Check(_no_nulo, name="nulo_requerido", ignore_na=False))
    if any(campo == columna.nombre and id_col is None for campo, _, id_col in DUPLICADOS[fuente.tabla]):
        reglas.append(pa.Check(_sin_repetir, name="id_duplicado"))
    if columna.largo_maximo is not None and not columna.valores and columna.patron is None:
        reglas.append(pa.Check(_cabe_en(columna.largo_maximo), name="valor_demasiado_largo"))
    if columna.patron == catalogo.CODIGO_CENTRO:
        reglas.append(pa.Check(_centro_valido, name="centro_malformado"))
    if columna.valores:
        reglas.append(pa.Check(_uno_de(columna.valores), name="resultado_desconocido"))
    return reglas


def _esquema_de(tabla: str, descripcion: str, de_columna: dict, de_fila: dict) -> pa.DataFrameSchema:
    """`ivr.<tabla>` as extracted: the columns of its catalog entry (less the local day and hour
    staging derives), each nullable for pandera (a required value is the nulo_requerido rule),
    with the rules its entry implies, then `de_columna` (column: {rule: function}); the row rules
    `de_fila` (name: function over the frame), then the "later copies" rules of DUPLICADOS."""
    fuente = FUENTES[tabla]
    columnas = {}
    for c in fuente.catalogo.de_negocio():
        if c.nombre in COLUMNAS_DERIVADAS:
            continue
        propias = [pa.Check(f, name=n, ignore_na=False) for n, f in de_columna.get(c.nombre, {}).items()]
        tipo = str if c.largo_maximo is not None else _TIPOS[c.tipo]
        columnas[c.nombre] = pa.Column(tipo, nullable=True, checks=[*_reglas_de_columna(fuente, c), *propias])
    copias = {
        f"id_duplicado:{campo}": functools.partial(_copias_posteriores, claves=claves, id_col=id_col)
        for campo, claves, id_col in DUPLICADOS[tabla]
        if id_col is not None
    }
    checks = [pa.Check(f, name=n, ignore_na=False) for n, f in {**de_fila, **copias}.items()]
    return pa.DataFrameSchema(columnas, checks=checks, coerce=True, name=tabla, description=descripcion)


def _despues(tarde: pd.Series, temprano: pd.Series) -> pd.Series:
    """`tarde >= temprano`, True where either side is NULL (NULLs are skipped in a chain)."""
    return ~(tarde < temprano).fillna(False).astype(bool)


def _resultado_cola(df: pd.DataFrame) -> pd.Series:
    conocido = df["resultado"].isin(RESULTADOS_LLAMADA)
    encolada = df["resultado"].isin(("ATENDIDA", "ABANDONADA"))
    return ~conocido | (encolada == df["ingreso_cola"].notna())


def _resultado_atencion(df: pd.DataFrame) -> pd.Series:
    conocido = df["resultado"].isin(RESULTADOS_LLAMADA)
    atendida = df["resultado"] == "ATENDIDA"
    return ~conocido | (atendida.fillna(False).astype(bool) == df["atencion"].notna())


def _espera_larga(df: pd.DataFrame, hasta: str, resultado: str) -> pd.Series:
    larga = (df[hasta] - df["ingreso_cola"]) > MAX_ESPERA
    return ~(larga & (df["resultado"] == resultado)).fillna(False).astype(bool)


ESQUEMAS: dict[str, pa.DataFrameSchema] = {
    "llamadas": _esquema_de(
        "llamadas",
        "ivr.llamadas tal como se extrae (centros permitidos, una ventana).",
        {"cliente_id": {"cliente_no_identificado": _no_nulo}},
        {
            "orden_tiempos:ingreso_cola": lambda df: _despues(df["ingreso_cola"], df["inicio"]),
            "orden_tiempos:atencion": lambda df: _despues(df["atencion"], df["ingreso_cola"].fillna(df["inicio"])),
            "orden_tiempos:fin": lambda df: _despues(
                df["fin"], df["atencion"].fillna(df["ingreso_cola"]).fillna(df["inicio"])
            ),
            "resultado_inconsistente:ingreso_cola": _resultado_cola,
            "resultado_inconsistente:atencion": _resultado_atencion,
            "duracion_excesiva:fin": lambda df: ~((df["fin"] - df["inicio"]) > MAX_DURACION).fillna(False).astype(bool),
            "espera_excesiva:atencion": lambda df: _espera_larga(df, "atencion", "ATENDIDA"),
            "espera_excesiva:fin": lambda df: _espera_larga(df, "fin", "ABANDONADA"),
        },
    ),
    "menu_eventos": _esquema_de(
        "menu_eventos",
        "ivr.menu_eventos tal como se extrae (centros permitidos, una ventana).",
        {},
        {"orden_tiempos:salida": lambda df: _despues(df["salida"], df["entrada"])},
    ),
    "transferencias": _esquema_de(
        "transferencias",
        "ivr.transferencias tal como se extrae (centros de origen permitidos, una ventana).",
        {},
        {
            "orden_tiempos:fin": lambda df: _despues(df["fin"], df["inicio"]),
            # a successful transfer connected, so it has an end
            "resultado_inconsistente:fin": lambda df: ~(df["exitosa"].fillna(False).astype(bool) & df["fin"].isna()),
        },
    ),
}


@dataclass
class Resultado:
    """What validation found. `fallas`: one row per (row, rule, field) with columns fila
    (position in the frame), regla, campo, severidad, valor. `criticos`: one row per
    (rule, field) that makes the frame unusable, with regla, campo, mensaje, fila (first
    offending row or -1) and casos (how many)."""

    fallas: pd.DataFrame
    criticos: pd.DataFrame
    filas: int

    @cached_property
    def rechazadas(self) -> np.ndarray:
        """Boolean mask over the frame: rows with at least one error (not loaded)."""
        mask = np.zeros(self.filas, dtype=bool)
        mask[self.fallas.loc[self.fallas["severidad"] == ERROR, "fila"].to_numpy()] = True
        return mask

    @cached_property
    def advertidas(self) -> np.ndarray:
        """Boolean mask: rows with a warning and no error (loaded and recorded)."""
        mask = np.zeros(self.filas, dtype=bool)
        mask[self.fallas.loc[self.fallas["severidad"] == WARNING, "fila"].to_numpy()] = True
        return mask & ~self.rechazadas

    def con_fallas(self, otras: pd.DataFrame) -> Resultado:
        """This result plus failures found outside the model (same columns as `fallas`)."""
        if otras.empty:
            return self
        return Resultado(pd.concat([self.fallas, otras], ignore_index=True), self.criticos, self.filas)

    def por_regla(self) -> dict[str, int]:
        """Failures per rule (rows recorded in etl_validation_errors), critical ones included."""
        cuenta = self.fallas.groupby("regla").size().to_dict()
        for regla, casos in self.criticos.groupby("regla")["casos"].sum().items():
            cuenta[regla] = cuenta.get(regla, 0) + int(casos)
        return {regla: int(n) for regla, n in sorted(cuenta.items())}


def columnas_duplicados(tabla: str) -> list[str]:
    """The columns the duplicate rules of `tabla` read."""
    return list(
        dict.fromkeys(c for _, claves, id_col in DUPLICADOS[tabla] for c in [*claves, *([id_col] if id_col else [])])
    )


def duplicados(tabla: str, claves: pd.DataFrame) -> pd.DataFrame:
    """The id_duplicado failures over `claves` (the key columns of a whole day or window, in
    row order), as `Resultado.fallas` rows: the same functions the schemas' checks run."""
    partes = []
    for campo, columnas, id_col in DUPLICADOS[tabla]:
        if id_col is None:
            serie = claves[columnas[0]].dropna()  # pandera skips NULLs for column checks
            malas = serie.index[~_sin_repetir(serie).to_numpy()]
            valores = serie.loc[malas].to_numpy(dtype=object)
        else:
            ok = _copias_posteriores(claves, columnas, id_col)
            malas = claves.index[~ok.to_numpy()]
            valores = claves.loc[malas, columnas[0]].to_numpy(dtype=object)
        partes.append(
            pd.DataFrame(
                {
                    "fila": np.asarray(malas, dtype="int64"),
                    "regla": "id_duplicado",
                    "campo": campo,
                    "severidad": SEVERIDAD["id_duplicado"],
                    "valor": valores,
                }
            )
        )
    fallas = pd.concat([_FALLAS_VACIAS, *partes], ignore_index=True) if partes else _FALLAS_VACIAS.copy()
    return fallas.astype({"fila": "int64"})


# An odd 64-bit constant (the golden ratio's): multiplying by it spreads one key column's values
# before the next is added, so rows with equal keys always share a code and unequal ones rarely do.
_MEZCLA = np.uint64(0x9E3779B97F4A7C15)


def filas_candidatas(tabla: str, claves: pa_arrow.Table) -> np.ndarray:
    """Positions of the rows of `claves` (the columns `columnas_duplicados` names, a whole batch)
    that may break a duplicate rule: those whose non-NULL numeric key columns, mixed into one
    64-bit code per rule, repeat. Every row of a group with equal complete keys is among them
    (equal keys, equal code); a collision only adds a row that `duplicados` then clears. A
    rule's groups are decided within the group, so `duplicados` over these rows alone finds
    exactly what it finds over all of them, hashing one int64 code per row instead of converting
    every key to pandas and hashing three columns (3.97M event keys: 0.6 s instead of 0.9-1.2 s)."""
    elegidas = np.zeros(claves.num_rows, dtype=bool)
    for _, columnas, _ in DUPLICADOS[tabla]:
        numericas = [
            c
            for c in columnas
            if pa_arrow.types.is_integer(claves[c].type) or pa_arrow.types.is_timestamp(claves[c].type)
        ]
        if not numericas:  # no integer or timestamp key: every row stays a candidate
            return np.arange(claves.num_rows)
        codigo = np.zeros(claves.num_rows, dtype=np.uint64)
        completa = np.ones(claves.num_rows, dtype=bool)
        for columna in numericas:
            valores = claves[columna]
            if pa_arrow.types.is_timestamp(valores.type):
                valores = pc.cast(valores, pa_arrow.int64())
            completa &= pc.is_valid(valores).to_numpy(zero_copy_only=False)
            enteros = pc.fill_null(valores, 0).to_numpy(zero_copy_only=False).view(np.uint64)
            # in place: a whole day's codes are 8 bytes a row, no temporary copies of them
            codigo *= _MEZCLA
            codigo += enteros
            del enteros
        elegidas[_repetidos(codigo, completa)] = True
        del codigo
    return np.flatnonzero(elegidas)


# Codes are split by the top bits of one more mix into 2**_BITS_GRUPO groups (equal codes fall
# in the same group), each hashed on its own: one hash table for a whole 3M-call day's 7M
# event codes was the staging load's peak of memory (+430 MB); a sixteenth of it is noise.
_BITS_GRUPO = 4


def _repetidos(codigo: np.ndarray, completa: np.ndarray) -> np.ndarray:
    """Positions of the complete rows whose code appears more than once among complete rows."""
    grupo = codigo * _MEZCLA
    grupo >>= np.uint64(64 - _BITS_GRUPO)
    grupo = grupo.astype(np.uint8)
    grupo[~completa] = 2**_BITS_GRUPO  # incomplete keys repeat nothing
    partes = []
    for g in range(2**_BITS_GRUPO):
        en_grupo = np.flatnonzero(grupo == g)
        repetida = pd.Series(codigo[en_grupo]).duplicated(keep=False).to_numpy()
        partes.append(en_grupo[repetida])
    return np.concatenate(partes)


_FALLAS_VACIAS = pd.DataFrame(
    {
        "fila": pd.Series(dtype="int64"),
        "regla": pd.Series(dtype="str"),
        "campo": pd.Series(dtype="str"),
        "severidad": pd.Series(dtype="str"),
        "valor": pd.Series(dtype="object"),
    }
)
_CRITICOS_VACIOS = pd.DataFrame(
    {
        "regla": pd.Series(dtype="str"),
        "campo": pd.Series(dtype="str"),
        "mensaje": pd.Series(dtype="str"),
        "fila": pd.Series(dtype="int64"),
        "casos": pd.Series(dtype="int64"),
    }
)


def validar(tabla: str, frame: pd.DataFrame, *, entre_filas: bool = True) -> Resultado:
    """Run the table's schema (lazy) over `frame` (RangeIndex) and sort what fails by severity.
    `entre_filas=False` leaves the id_duplicado rules out: for a chunk of a batch whose keys
    `duplicados` checks afterwards, all at once (a chunk alone cannot see every copy anyway)."""
    exacto = _tipos_exactos(tabla, frame)
    esquema = _esquema(tabla, entre_filas, coercion=not exacto)
    if exacto:
        fallas = _fallas_de_los_checks(esquema, frame)
        if fallas is not None:
            return Resultado(fallas=fallas, criticos=_CRITICOS_VACIOS.copy(), filas=len(frame))
    try:
        esquema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fallas, criticos = _clasificar(exc.failure_cases)
        return Resultado(fallas=fallas, criticos=criticos, filas=len(frame))
    return Resultado(fallas=_FALLAS_VACIAS.copy(), criticos=_CRITICOS_VACIOS.copy(), filas=len(frame))


def _fallas_de_los_checks(esquema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame | None:
    """The schema's checks run one by one through pandera's check backend (as `validate` runs
    them: a column check on that column, NULLs dropped unless `ignore_na=False`), their failing
    rows read straight off each boolean output. For a frame of the schema's exact dtypes, whose
    columns and types need no check: `validate(lazy=True)` would spend a third of its time
    formatting every failure case into an error report we do not read (0.57 of 1.88 s for a
    2.4M-event day). None when a check cannot run (the full validation then reports why)."""
    partes = []
    try:
        for nombre, columna in esquema.columns.items():
            for check in columna.checks:
                salida = check(frame, nombre).check_output
                malas = salida.index[~salida.to_numpy(dtype=bool)]
                partes.append((check.name, nombre, malas, frame[nombre].take(malas).to_numpy(dtype=object)))
        for check in esquema.checks:
            salida = check(frame).check_output
            malas = salida.index[~salida.to_numpy(dtype=bool)]
            partes.append((check.name, None, malas, None))
    except Exception:  # a check that cannot run: the full validation records it as critical
        return None
    if any(nombre.split(":", 1)[0] not in SEVERIDAD for nombre, *_ in partes):
        return None
    marcos = []
    for nombre, columna, malas, valores in partes:
        if not len(malas):
            continue
        regla, _, campo = nombre.partition(":")
        marcos.append(
            pd.DataFrame(
                {
                    "fila": np.asarray(malas, dtype="int64"),
                    "regla": regla,
                    "campo": campo or columna,
                    "severidad": SEVERIDAD[regla],
                    "valor": valores if valores is not None else None,
                }
            )
        )
    if not marcos:
        return _FALLAS_VACIAS.copy()
    fallas = pd.concat(marcos, ignore_index=True).astype({"fila": "int64"})
    return fallas.drop_duplicates(subset=["fila", "regla", "campo"]).reset_index(drop=True)


def _tipos_exactos(tabla: str, frame: pd.DataFrame) -> bool:
    """Whether every column of the schema is in `frame` with exactly the schema's dtype."""
    columnas = ESQUEMAS[tabla].columns
    return all(c in frame.columns and frame[c].dtype == col.dtype.type for c, col in columnas.items())


@cache
def _esquema(tabla: str, entre_filas: bool, coercion: bool) -> pa.DataFrameSchema:
    """The schema `validar` runs. Without coercion only for a frame already of the schema's
    dtypes (what Arrow gives for the declared source types): coercing it would copy every
    column for nothing (0.8 s per 2.4M event rows). A frame whose types differ is still coerced,
    so a compatible change at the source is converted and an unreadable one is `tipo_invalido`.
    `entre_filas=False`: without the id_duplicado checks (the other rules unchanged)."""
    esquema = copy.deepcopy(ESQUEMAS[tabla])
    if not entre_filas:
        esquema.checks = [c for c in esquema.checks if c.name.split(":", 1)[0] != "id_duplicado"]
        for columna in esquema.columns.values():
            columna.checks = [c for c in columna.checks if c.name.split(":", 1)[0] != "id_duplicado"]
    if not coercion:
        esquema.coerce = False
        for columna in esquema.columns.values():
            columna.coerce = False
    return esquema


def _clasificar(casos: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Failure cases run to hundreds of thousands of rows but name a dozen checks: parse each
    # distinct check name once and spread the result through the categorical codes.
    checks = pd.Categorical(casos["check"].astype(str))
    partes = [str(c).split(":", 1) for c in checks.categories]
    reglas = np.array([p[0] for p in partes] + [""], dtype=object)
    campos = np.array([p[1] if len(p) > 1 else None for p in partes] + [None], dtype=object)
    regla = reglas[checks.codes]
    campo = campos[checks.codes]
    sin_campo = pd.isna(campo)
    campo[sin_campo] = casos["column"].astype(str).to_numpy()[sin_campo]
    fila = pd.to_numeric(casos["index"], errors="coerce").to_numpy()
    conocida = np.isin(regla, list(SEVERIDAD)) & ~np.isnan(fila)

    fallas = pd.DataFrame(
        {
            "fila": fila[conocida].astype("int64"),
            "regla": regla[conocida],
            "campo": campo[conocida],
            "severidad": pd.Series(regla[conocida]).map(SEVERIDAD).to_numpy(),
            "valor": casos["failure_case"].to_numpy()[conocida],
        }
    )
    # A check over several columns reports each failing row once per column: keep one.
    fallas = fallas.drop_duplicates(subset=["fila", "regla", "campo"]).reset_index(drop=True)
    return fallas, _criticos(casos[~conocida])


def _criticos(casos: pd.DataFrame) -> pd.DataFrame:
    if casos.empty:
        return _CRITICOS_VACIOS.copy()
    filas = []
    for (check, columna), grupo in casos.groupby(["check", "column"], dropna=False, sort=True):
        check, columna = str(check), str(columna)
        indices = pd.to_numeric(grupo["index"], errors="coerce").dropna()
        primero = grupo["failure_case"].iloc[0]
        if check == "column_in_dataframe":
            regla, campo, mensaje = COLUMNA_FALTANTE, str(primero), f"la columna {primero} falta en la fuente"
        elif check.startswith(("coerce_dtype", "dtype")):
            tipo = check[check.find("(") + 1 : check.rfind(")")].strip("'")
            regla, campo = TIPO_INVALIDO, columna
            mensaje = f"{len(grupo)} valor(es) de {columna} no se pueden leer como {tipo} (el primero: {primero!r})"
        else:
            regla, campo = CHECK_FALLIDO, check.split(":", 1)[-1] if ":" in check else columna
            mensaje = f"el check {check} no pudo correr: {primero}"
        filas.append(
            {
                "regla": regla,
                "campo": campo,
                "mensaje": mensaje,
                "fila": int(indices.iloc[0]) if len(indices) else -1,
                "casos": max(len(indices), 1),
            }
        )
    # Several pandera checks can describe one broken column (dtype and coerce_dtype): once each.
    return pd.DataFrame(filas).drop_duplicates(subset=["regla", "campo"]).reset_index(drop=True)


# The etl_validation_errors columns a failure fills (the run adds job_id, run_id and asset_key).
COLUMNAS_ERROR = [
    c for c in catalogo.tabla("etl_validation_errors").nombres() if c not in ("job_id", "run_id", "asset_key")
]


def filas_de_error(frame: pd.DataFrame, resultado: Resultado, *, id_col: str, columnas: list[str]) -> pd.DataFrame:
    """etl_validation_errors rows (without run and asset) for every failure, most severe first:
    partition_key (the record's own day), record_id, field_name, error_type, error_message,
    severity, record_data (the source record as JSON)."""
    fallas = resultado.fallas
    if fallas.empty:
        return pd.DataFrame(columns=COLUMNAS_ERROR)
    filas = fallas["fila"].to_numpy()
    unicas = np.unique(filas)
    documentos = pd.Series(json_registros(frame.iloc[unicas][columnas]), index=unicas)
    salida = pd.DataFrame(
        {
            "partition_key": pd.Series(frame["fecha"].to_numpy()[filas], dtype="datetime64[s]").dt.strftime("%Y-%m-%d"),
            "record_id": frame[id_col].take(filas).astype("string").to_numpy(),
            "field_name": fallas["campo"].to_numpy(),
            "error_type": fallas["regla"].to_numpy(),
            "error_message": _mensajes(fallas),
            "severity": fallas["severidad"].to_numpy(),
            "record_data": documentos.loc[filas].to_numpy(),
        }
    )
    # Most severe first, then by day, record id, rule and field.
    orden = salida["severity"].map(_ORDEN_SEVERIDAD)
    return (
        salida.assign(_orden=orden, _id=pd.to_numeric(salida["record_id"], errors="coerce"))
        .sort_values(["_orden", "partition_key", "_id", "error_type", "field_name"], kind="stable")
        .drop(columns=["_orden", "_id"])
        .reset_index(drop=True)
    )


def json_registros(registros: pd.DataFrame) -> list[str]:
    """One JSON document per record, serialized in C by pandas. Timestamps are turned into
    ISO-8601 UTC text by Arrow first: pandas' JSON writer boxes every tz-aware value (~100x slower)."""
    planos = registros.copy()
    for columna in planos.columns:
        if isinstance(planos[columna].dtype, pd.DatetimeTZDtype):
            utc = pa_arrow.array(planos[columna].dt.tz_convert("UTC").dt.tz_localize(None))
            texto = pc.replace_substring(pc.cast(utc, pa_arrow.string()), " ", "T", max_replacements=1)
            planos[columna] = pd.Series(pc.binary_join_element_wise(texto, "Z", ""), index=planos.index, dtype=object)
    # ASCII-escaped JSON holds no raw newline, so "\n" separates the records exactly.
    return planos.to_json(orient="records", lines=True, force_ascii=True).rstrip("\n").split("\n")


def _mensajes(fallas: pd.DataFrame) -> np.ndarray:
    """The message of each failure, built per (rule, field) group with vectorized string ops."""
    mensajes = np.empty(len(fallas), dtype=object)
    for (regla, campo), grupo in fallas.groupby(["regla", "campo"], sort=False):
        plantilla = _MENSAJES.get((regla, campo)) or _MENSAJES[regla]
        plantilla = plantilla.replace("{campo}", campo)
        if "{valor}" in plantilla:
            antes, despues = plantilla.split("{valor}", 1)
            valores = "'" + grupo["valor"].astype(str) + "'"
            mensajes[grupo.index.to_numpy()] = (antes + valores + despues).to_numpy()
        else:
            mensajes[grupo.index.to_numpy()] = plantilla
    return mensajes
