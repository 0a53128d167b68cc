"""The table catalog: every warehouse table the platform owns, and each of its columns,
declared once (type, nullability, allowed values, unit, meaning, formula reference).

Everything else derives from here: the `COMMENT ON TABLE/COLUMN` an analyst reads in
`psql \\d+` (applied by `migrations.migrate`), the asset descriptions and the Dagster
`dagster/column_schema` of the staging and report assets, the column part of the staging
validation, the Arrow types of the staging load, the export headers and the reset of a test or
benchmark warehouse. A test holds the catalog against the migrated DDL, so a table or column
added in SQL without its entry here (or the reverse) fails CI.

Types are written as PostgreSQL's `format_type()` prints them, so the comparison is exact.
Descriptions are in Spanish: analysts and operators read them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from psycopg import sql

if TYPE_CHECKING:
    import dagster as dg

# PostgreSQL types, as format_type() prints them.
BIGINT, INTEGER, SMALLINT, BOOLEAN = "bigint", "integer", "smallint", "boolean"
DATE, TIMESTAMPTZ, TEXT, JSONB = "date", "timestamp with time zone", "text", "jsonb"
TIME = "time without time zone"
SUMA_SEGUNDOS = "numeric(14,2)"  # an additive sum of seconds, 2 decimals
SEGUNDOS = "numeric(10,2)"  # seconds, 2 decimals
PORCENTAJE = "numeric(5,2)"  # percent 0-100, 2 decimals
DECIMAL = "numeric(10,2)"  # a plain ratio, 2 decimals


_VARCHAR = re.compile(r"character varying\((\d+)\)")

# The center code format (8 digits): staging's centro_malformado rule matches it.
DIGITOS_CENTRO = 8
CODIGO_CENTRO = rf"[0-9]{{{DIGITOS_CENTRO}}}"


def varchar(n: int) -> str:
    return f"character varying({n})"


@dataclass(frozen=True)
class Columna:
    nombre: str
    tipo: str
    descripcion: str
    # Short header for exports (PDF, Excel); the column name when None.
    etiqueta: str | None = None
    # Bookkeeping columns (id, created_at, updated_at): documented in the warehouse, left out
    # of asset schemas and exports.
    tecnica: bool = False
    # NULL allowed (the DDL has no NOT NULL): most columns are NOT NULL.
    nula: bool = False
    # The only values the column takes (its description lists them), when it is an enumeration.
    valores: tuple[str, ...] = ()
    # A regular expression every value matches in full (CODIGO_CENTRO).
    patron: str | None = None

    @property
    def encabezado(self) -> str:
        return self.etiqueta or self.nombre

    @property
    def largo_maximo(self) -> int | None:
        """n of a varchar(n) column, else None."""
        largo = _VARCHAR.fullmatch(self.tipo)
        return int(largo.group(1)) if largo else None

    def restricciones(self) -> list[str]:
        return [
            *([f"uno de: {', '.join(self.valores)}"] if self.valores else []),
            *([f"patrón: {self.patron}"] if self.patron else []),
        ]


@dataclass(frozen=True)
class Tabla:
    nombre: str  # as SQL names it: `staging.llamadas`, `reportes_llamadas_dia`
    descripcion: str
    escrita_por: str  # the asset, sensor or command that writes it
    columnas: tuple[Columna, ...]
    clave: tuple[str, ...] = field(default=())  # natural key, the period's date first
    # Settings seeded by the migrations (config_reportes), not data: a reset keeps their rows.
    configuracion: bool = False

    def identificador(self) -> sql.Identifier:
        return sql.Identifier(*self.nombre.split("."))

    def columna(self, nombre: str) -> Columna:
        return next(c for c in self.columnas if c.nombre == nombre)

    def de_negocio(self) -> tuple[Columna, ...]:
        return tuple(c for c in self.columnas if not c.tecnica)

    def nombres(self) -> list[str]:
        return [c.nombre for c in self.de_negocio()]

    def esquema_dagster(self) -> dg.TableSchema:
        import dagster as dg  # only the definitions need it: `iact db`, the exports and the CLI's start do not

        return dg.TableSchema(
            columns=[
                dg.TableColumn(
                    c.nombre,
                    c.tipo,
                    c.descripcion,
                    constraints=dg.TableColumnConstraints(nullable=c.nula, other=c.restricciones()),
                )
                for c in self.de_negocio()
            ]
        )

    def metadata_dagster(self) -> dict:
        """Static asset metadata: the table's name and its described columns."""
        return {"dagster/table_name": self.nombre, "dagster/column_schema": self.esquema_dagster()}

    def activo_externo(self, clave: list[str], deps: list[dg.AssetKey]) -> dg.AssetSpec:
        """The table as an external asset (Dagster never materializes it; `escrita_por` does, as
        a side effect of its own work), grouped under its area, the first part of `clave`."""
        import dagster as dg

        return dg.AssetSpec(
            key=dg.AssetKey(clave),
            description=f"{self.descripcion} Escrita por: {self.escrita_por}.",
            group_name=clave[0],
            kinds={"postgres"},
            deps=deps,
            metadata={**self.metadata_dagster(), "escrita_por": self.escrita_por},
        )


_S = "segundos, 2 decimales"
_P = "porcentaje 0-100, 2 decimales"

# Where a metric column's exact formula is documented: its table's section of docs/METRICAS.md
# (the section is named after the table; `_anclar` fills in the table's name).
_ANCLA = "<tabla>"
_FORMULA = f"fórmula: docs/METRICAS.md#{_ANCLA}"


def _auditoria() -> tuple[Columna, ...]:
    return (
        Columna("created_at", TIMESTAMPTZ, "cuándo se creó la fila", tecnica=True),
        Columna("updated_at", TIMESTAMPTZ, "cuándo cambió la fila por última vez", tecnica=True),
    )


def _una_de(valores: dict[str, str]) -> str:
    """ "a, b (note) o c": an enumeration's values, each with its note where one helps."""
    partes = [f"{valor} ({nota})" if nota else valor for valor, nota in valores.items()]
    return f"{', '.join(partes[:-1])} o {partes[-1]}"


def _enumerada(nombre: str, tipo: str, valores: dict[str, str], etiqueta: str | None = None) -> Columna:
    return Columna(nombre, tipo, _una_de(valores), etiqueta, valores=tuple(valores))


def _id() -> Columna:
    return Columna("id", BIGINT, "identificador de la fila", tecnica=True)


def _local(inicio: str) -> tuple[Columna, ...]:
    return (
        Columna("fecha", DATE, f"día local (zona IACT_ZONA_HORARIA) de {inicio}; la partición diaria"),
        Columna("hora", SMALLINT, f"hora local 0-23 de {inicio}"),
    )


_LLAMADAS = (
    Columna("total_llamadas", INTEGER, "llamadas", "Llamadas"),
    Columna("llamadas_atendidas", INTEGER, "llamadas con resultado ATENDIDA", "Atendidas"),
    Columna("llamadas_abandonadas", INTEGER, "llamadas con resultado ABANDONADA", "Abandonadas"),
    Columna(
        "tiempo_promedio_espera",
        SEGUNDOS,
        f"espera media de las atendidas, atencion - ingreso_cola (ASA); {_S}; {_FORMULA}",
        "Espera prom. (s)",
    ),
    Columna(
        "tiempo_promedio_atencion",
        SEGUNDOS,
        f"duración media fin - atencion de las atendidas; {_S}; {_FORMULA}",
        "Atención prom. (s)",
    ),
    Columna(
        "nivel_servicio",
        PORCENTAJE,
        f"100 × atendidas con espera <= IACT_UMBRAL_NIVEL_SERVICIO ÷ (atendidas + abandonadas); {_P}; {_FORMULA}",
        "Nivel de servicio (%)",
    ),
)
_TASA_ABANDONO_LLAMADAS = Columna(
    "tasa_abandono", PORCENTAJE, f"100 × abandonadas ÷ (atendidas + abandonadas); {_P}; {_FORMULA}", "Tasa abandono (%)"
)

_ESPERA = "espera = atencion - ingreso_cola (atendida) o fin - ingreso_cola (abandonada)"
_CENTRO = Columna(
    "centro_id", varchar(8), "centro (8 dígitos): 19028031 Nacional, 19020084 Puebla", "Centro", patron=CODIGO_CENTRO
)


def _pct(nombre: str, formula: str, etiqueta: str) -> Columna:
    return Columna(nombre, PORCENTAJE, f"100 × {formula}; {_P}; {_FORMULA}", etiqueta)


_INTERVALOS = (
    _id(),
    Columna("fecha", DATE, "día local de inicio de la llamada (zona IACT_ZONA_HORARIA)", "Fecha"),
    Columna(
        "intervalo",
        TIME,
        "cuarto de hora local de inicio (hora local truncada a 15 min); los 96 de cada día, con ceros; "
        "en el día de 25 h del cambio de horario las dos pasadas de la hora repetida caen en los mismos intervalos",
        "Intervalo",
    ),
    _CENTRO,
    Columna("ofrecidas", INTEGER, "llamadas que iniciaron en el intervalo", "Ofrecidas"),
    Columna("solo_ivr", INTEGER, "llamadas con resultado IVR (terminaron sin pedir asesor)", "Solo IVR"),
    Columna("atendidas", INTEGER, "llamadas con resultado ATENDIDA", "Atendidas"),
    Columna("abandonadas", INTEGER, "llamadas con resultado ABANDONADA", "Abandonadas"),
    Columna(
        "abandonos_cortos",
        INTEGER,
        f"abandonadas con espera <= abandono_corto_s (IACT_ABANDONO_CORTO); {_ESPERA}",
        "Abandonos cortos",
    ),
    Columna(
        "atendidas_en_umbral",
        INTEGER,
        f"atendidas con espera <= umbral_servicio_s (IACT_UMBRAL_NIVEL_SERVICIO); {_ESPERA}",
        "Atendidas en umbral",
    ),
    Columna(
        "suma_espera_atendidas", SUMA_SEGUNDOS, f"suma de la espera de las atendidas (aditiva); {_S}", "Suma espera (s)"
    ),
    Columna(
        "suma_atencion", SUMA_SEGUNDOS, f"suma de fin - atencion de las atendidas (aditiva); {_S}", "Suma atención (s)"
    ),
    Columna(
        "espera_maxima", SEGUNDOS, f"espera máxima de atendidas y abandonadas, 0 si no hubo; {_S}", "Espera máx. (s)"
    ),
    Columna(
        "tiempo_promedio_espera",
        SEGUNDOS,
        f"suma_espera_atendidas ÷ atendidas (ASA); {_S}; {_FORMULA}",
        "Espera prom. (s)",
    ),
    Columna("tiempo_promedio_atencion", SEGUNDOS, f"suma_atencion ÷ atendidas; {_S}; {_FORMULA}", "Atención prom. (s)"),
    _pct(
        "nivel_servicio",
        "atendidas_en_umbral ÷ (atendidas + abandonadas) (la convención de reportes_llamadas_dia)",
        "Nivel servicio (%)",
    ),
    _pct("nivel_servicio_atendidas", "atendidas_en_umbral ÷ atendidas", "NS s/atendidas (%)"),
    _pct(
        "nivel_servicio_sin_cortos",
        "atendidas_en_umbral ÷ (atendidas + abandonadas − abandonos_cortos)",
        "NS sin cortos (%)",
    ),
    _pct("tasa_abandono", "abandonadas ÷ (atendidas + abandonadas)", "Tasa abandono (%)"),
    _pct(
        "tasa_abandono_sin_cortos",
        "(abandonadas − abandonos_cortos) ÷ (atendidas + abandonadas − abandonos_cortos)",
        "Abandono sin cortos (%)",
    ),
    _pct("contencion_ivr", "solo_ivr ÷ ofrecidas", "Contención IVR (%)"),
    Columna("umbral_servicio_s", SEGUNDOS, "T usado para esta fila (IACT_UMBRAL_NIVEL_SERVICIO), segundos", "T (s)"),
    Columna("abandono_corto_s", SEGUNDOS, "S usado para esta fila (IACT_ABANDONO_CORTO), segundos", "S (s)"),
    *_auditoria(),
)

_RELLAMADAS = (
    _id(),
    Columna("fecha", DATE, "día local de inicio de las llamadas", "Fecha"),
    _CENTRO,
    Columna(
        "llamadas_identificadas",
        INTEGER,
        "llamadas con cliente_id no nulo que iniciaron ese día en el centro",
        "Identificadas",
    ),
    Columna("clientes", INTEGER, "cliente_id distintos de esas llamadas", "Clientes"),
    Columna(
        "rellamadas",
        INTEGER,
        "llamadas identificadas precedidas por otra llamada del mismo cliente (cualquier centro y resultado) "
        "iniciada en las ventana_rellamada_h horas previas, anterior en orden (inicio, llamada_id); "
        f"lee la historia cargada de días anteriores; {_FORMULA}",
        "Rellamadas",
    ),
    Columna(
        "clientes_con_rellamada",
        INTEGER,
        "clientes con al menos una rellamada ese día en el centro",
        "Clientes con rellamada",
    ),
    _pct("tasa_rellamada", "rellamadas ÷ llamadas_identificadas", "Tasa rellamada (%)"),
    Columna("ventana_rellamada_h", INTEGER, "H usada para esta fila (IACT_VENTANA_RELLAMADA_HORAS), horas", "H (h)"),
    Columna(
        "horas_historia_cargadas",
        "numeric(6,2)",
        "horas de la ventana previas al inicio del día cubiertas sin huecos por días de staging cargados "
        "(al construir la fila); menos que ventana_rellamada_h: las primeras llamadas del día no vieron toda su ventana",
        "Historia cargada (h)",
    ),
    Columna(
        "ventana_completa",
        BOOLEAN,
        "horas_historia_cargadas = ventana_rellamada_h: todas las llamadas vieron su ventana completa; "
        "si es falso, reconstruir el día tras cargar los días previos",
        "Ventana completa",
    ),
    *_auditoria(),
)

_DEVOLUCION = (
    _id(),
    Columna("fecha", DATE, "día local de los abandonos", "Fecha"),
    Columna("cliente_id", varchar(32), "cliente a devolver la llamada", "Cliente"),
    Columna("centro_id", varchar(8), "centro de su último abandono del día", "Centro"),
    Columna(
        "ultimo_abandono",
        TIMESTAMPTZ,
        "inicio de su último abandono del día (último en orden inicio, llamada_id), sin llamada ATENDIDA "
        "posterior ese día en ningún centro",
        "Último abandono",
    ),
    Columna(
        "espera_ultimo_abandono", SEGUNDOS, f"espera en cola de ese abandono, fin - ingreso_cola; {_S}", "Espera (s)"
    ),
    Columna("abandonos", INTEGER, "sus llamadas ABANDONADA del día (todos los centros)", "Abandonos"),
    Columna("llamadas", INTEGER, "todas sus llamadas del día (todos los centros)", "Llamadas"),
    Columna("zona_horaria", varchar(64), "zona horaria del día local (IACT_ZONA_HORARIA al construir la fila)", "Zona"),
    *_auditoria(),
)

_OBJETIVO = (
    "X usado para esta fila: el objetivo del centro en objetivos_centro o IACT_OBJETIVO_NIVEL_SERVICIO, porcentaje"
)
_UMBRAL = "T usado para esta fila: el umbral_servicio_s de reportes_intervalos del intervalo, segundos"

_FD = "fórmula en docs/DIMENSIONAMIENTO.md; código en reportes/erlang.py y reportes/dimensionamiento.py"

_DIMENSIONAMIENTO = (
    _id(),
    Columna("fecha", DATE, "día local (zona IACT_ZONA_HORARIA); la partición diaria", "Fecha"),
    Columna("intervalo", TIME, "cuarto de hora local, como en reportes_intervalos (los 96, con ceros)", "Intervalo"),
    _CENTRO,
    Columna(
        "ofrecidas_atendibles", INTEGER, "atendidas + abandonadas del intervalo (las que pidieron asesor)", "Atendibles"
    ),
    Columna(
        "tma_s",
        SEGUNDOS,
        "tiempo medio de atención (AHT): suma_atencion ÷ atendidas; sin atendidas en el intervalo, el del centro en "
        f"el día (Σ suma_atencion ÷ Σ atendidas); 0 si el día no tuvo ninguna o el intervalo no tuvo llamadas; "
        f"{_S}; {_FD}",
        "TMA (s)",
    ),
    Columna(
        "tma_del_dia",
        BOOLEAN,
        "el intervalo tuvo abandonos y no atendidas: tma_s es el del centro en el día",
        "TMA del día",
    ),
    Columna(
        "carga_erlangs",
        "numeric(12,2)",
        f"carga ofrecida A = ofrecidas_atendibles × AHT ÷ 900, Erlangs, 2 decimales; {_FD}",
        "Carga (Erl)",
    ),
    Columna(
        "carga_atendida_erlangs",
        "numeric(12,2)",
        "carga realmente atendida: suma_atencion ÷ 900, Erlangs, 2 decimales",
        "Carga atendida (Erl)",
    ),
    Columna(
        "agentes_requeridos",
        INTEGER,
        "N: el menor entero N > A con nivel de servicio Erlang C SL(N) >= objetivo (comparado a precisión completa); "
        f"0 si A = 0; {_FD}",
        "Agentes",
    ),
    _pct("ocupacion", "A ÷ N (0 si N = 0)", "Ocupación (%)"),
    _pct(
        "nivel_servicio_esperado",
        "SL(N) = 1 − C(N, A) · exp(−(N − A) · T ÷ AHT), C la probabilidad de espera de Erlang C",
        "NS esperado (%)",
    ),
    Columna(
        "asa_esperada",
        SEGUNDOS,
        f"espera media esperada C(N, A) × AHT ÷ (N − A), 0 si N = 0; {_S}; {_FD}",
        "ASA esp. (s)",
    ),
    Columna(
        "agentes_con_ausentismo",
        INTEGER,
        "plantilla a programar: ceil(N ÷ (1 − ausentismo)), en aritmética decimal",
        "Con ausentismo",
    ),
    Columna("objetivo", PORCENTAJE, _OBJETIVO, "Objetivo (%)"),
    Columna("umbral_s", SEGUNDOS, _UMBRAL, "T (s)"),
    Columna("ausentismo", "numeric(4,2)", "s usado para esta fila (IACT_AUSENTISMO), fracción 0-1", "Ausentismo"),
    *_auditoria(),
)

_CUMPLIMIENTO = (
    _id(),
    Columna("fecha", DATE, "día local; la partición diaria", "Fecha"),
    _CENTRO,
    Columna("ofrecidas_atendibles", INTEGER, "Σ atendidas + abandonadas del día", "Atendibles"),
    Columna("atendidas_en_umbral", INTEGER, "Σ atendidas_en_umbral del día (espera <= umbral_s)", "En umbral"),
    _pct("nivel_servicio", "Σ atendidas_en_umbral ÷ Σ (atendidas + abandonadas) del día", "Nivel servicio (%)"),
    Columna("objetivo", PORCENTAJE, _OBJETIVO, "Objetivo (%)"),
    Columna("umbral_s", SEGUNDOS, _UMBRAL, "T (s)"),
    Columna(
        "margen_en_riesgo",
        PORCENTAJE,
        "puntos por debajo del objetivo que aún son en_riesgo (IACT_MARGEN_EN_RIESGO) usados para esta fila",
        "Margen (pts)",
    ),
    Columna(
        "cumple",
        BOOLEAN,
        "nivel_servicio >= objetivo, sobre el valor guardado; NULL si el día no tuvo llamadas (sin veredicto)",
        "Cumple",
        nula=True,
    ),
    Columna(
        "estado",
        varchar(10),
        "cumple; en_riesgo (por debajo del objetivo, a no más de margen_en_riesgo puntos) o incumple; "
        "NULL sin llamadas",
        "Estado",
        nula=True,
        valores=("cumple", "en_riesgo", "incumple"),
    ),
    Columna(
        "intervalos_bajo_objetivo",
        INTEGER,
        "intervalos del día con llamadas atendibles cuyo nivel_servicio (reportes_intervalos) < objetivo",
        "Intervalos bajo objetivo",
    ),
    Columna(
        "peor_racha",
        INTEGER,
        "la racha más larga de intervalos consecutivos bajo objetivo (un intervalo sin llamadas la corta)",
        "Peor racha",
    ),
    Columna(
        "peor_racha_inicio",
        TIME,
        "primer intervalo de esa racha (la más temprana si hay empate); NULL si no hubo",
        "Inicio racha",
        nula=True,
    ),
    Columna(
        "agentes_pico", INTEGER, "máximo de agentes_requeridos del día (reportes_dimensionamiento)", "Agentes pico"
    ),
    Columna("horas_agente", DECIMAL, "Σ agentes_requeridos ÷ 4 del día, horas", "Horas agente"),
    *_auditoria(),
)

_ESPERAS = (
    _id(),
    Columna("fecha", DATE, "día local de inicio de las llamadas; la partición diaria", "Fecha"),
    _CENTRO,
    _enumerada(
        "resultado",
        varchar(12),
        {"ATENDIDA": "espera hasta la atención", "ABANDONADA": "espera hasta colgar"},
        "Resultado",
    ),
    Columna(
        "tramo",
        varchar(20),
        f"tramo de espera en segundos: 0-5 es [0, 5], 5-10 es (5, 10], ..., >300 (límites IACT_TRAMOS_ESPERA); {_ESPERA}",
        "Tramo",
    ),
    Columna("orden", SMALLINT, "posición del tramo, 1 el más corto", "Orden"),
    Columna("desde_s", SEGUNDOS, "límite inferior del tramo (excluido salvo en el primero), segundos", "Desde (s)"),
    Columna(
        "hasta_s", SEGUNDOS, "límite superior del tramo (incluido), segundos; NULL en el último", "Hasta (s)", nula=True
    ),
    Columna("llamadas", INTEGER, "llamadas del día, centro y resultado con la espera en el tramo", "Llamadas"),
    _pct(
        "porcentaje_acumulado",
        "llamadas de ese resultado con espera <= hasta_s ÷ llamadas de ese resultado (100 en el último tramo)",
        "Acumulado (%)",
    ),
    *_auditoria(),
)


def _anclar(t: Tabla) -> Tabla:
    """The table with its columns' formula references pointing at its own section."""
    columnas = tuple(replace(c, descripcion=c.descripcion.replace(_ANCLA, t.nombre)) for c in t.columnas)
    return replace(t, columnas=columnas)


TABLAS: dict[str, Tabla] = {
    t.nombre: _anclar(t)
    for t in (
        # --- staging ---------------------------------------------------------------------------
        Tabla(
            "staging.llamadas",
            "Llamadas validadas de los centros permitidos, por día local de inicio.",
            "staging/llamadas",
            (
                Columna("llamada_id", BIGINT, "identificador de la llamada en el IVR"),
                Columna(
                    "centro_id",
                    varchar(8),
                    "centro (8 dígitos): 19028031 Nacional, 19020084 Puebla",
                    patron=CODIGO_CENTRO,
                ),
                Columna("cliente_id", varchar(32), "identidad de quien llama; NULL si no se identificó", nula=True),
                Columna("inicio", TIMESTAMPTZ, "entrada al IVR"),
                Columna("ingreso_cola", TIMESTAMPTZ, "pidió un agente y entró a la cola; NULL si nunca", nula=True),
                Columna("atencion", TIMESTAMPTZ, "un agente contestó; NULL si no", nula=True),
                Columna("fin", TIMESTAMPTZ, "fin de la llamada"),
                _enumerada(
                    "resultado", varchar(12), {"ATENDIDA": "", "ABANDONADA": "colgó en cola", "IVR": "sin cola"}
                ),
                *_local("inicio"),
            ),
            ("fecha", "llamada_id"),
        ),
        Tabla(
            "staging.menu_eventos",
            "Visitas validadas a menús del IVR de los centros permitidos, por día local de entrada.",
            "staging/menu_eventos",
            (
                Columna("evento_id", BIGINT, "identificador del evento en el IVR"),
                Columna("llamada_id", BIGINT, "llamada a la que pertenece la visita"),
                Columna("centro_id", varchar(8), "centro (8 dígitos)", patron=CODIGO_CENTRO),
                Columna("menu_id", varchar(50), "menú"),
                Columna("menu_nombre", varchar(200), "nombre del menú"),
                Columna("entrada", TIMESTAMPTZ, "entrada al menú"),
                Columna("salida", TIMESTAMPTZ, "salida del menú; NULL si colgó dentro", nula=True),
                _enumerada("resultado", varchar(12), dict.fromkeys(("OK", "ABANDONO", "TIMEOUT", "ERROR"), "")),
                *_local("entrada"),
            ),
            ("fecha", "evento_id"),
        ),
        Tabla(
            "staging.transferencias",
            "Transferencias validadas desde los centros permitidos, por día local de inicio.",
            "staging/transferencias",
            (
                Columna("transferencia_id", BIGINT, "identificador de la transferencia en el IVR"),
                Columna("llamada_id", BIGINT, "llamada transferida"),
                Columna("centro_origen", varchar(8), "centro que transfiere (8 dígitos)", patron=CODIGO_CENTRO),
                Columna("centro_destino", varchar(8), "centro que recibe (8 dígitos)", patron=CODIGO_CENTRO),
                Columna("inicio", TIMESTAMPTZ, "inicio de la transferencia"),
                Columna("fin", TIMESTAMPTZ, "fin; NULL si nunca conectó", nula=True),
                Columna("exitosa", BOOLEAN, "la transferencia conectó"),
                *_local("inicio"),
            ),
            ("fecha", "transferencia_id"),
        ),
        Tabla(
            "staging.clientes_dia",
            "Clientes identificados por día local: lo que cada día de staging.llamadas aporta a "
            "«clientes únicos» y a la primera llamada de cada cliente.",
            "staging/llamadas (staging/clientes.py, en la misma transacción que el día)",
            (
                Columna("fecha", DATE, "día local de las llamadas"),
                Columna("cliente_id", varchar(32), "cliente identificado que llamó ese día"),
                Columna("llamadas", INTEGER, "llamadas del cliente ese día (validadas, centros permitidos)"),
                Columna("ultima_llamada", TIMESTAMPTZ, "inicio de su última llamada de ese día"),
            ),
            ("fecha", "cliente_id"),
        ),
        Tabla(
            "staging.clientes_primera_llamada",
            "Primer día con llamadas de cada cliente en la historia cargada: min(fecha) de staging.clientes_dia.",
            "staging/llamadas (staging/clientes.py, en la misma transacción que el día)",
            (
                Columna("cliente_id", varchar(32), "cliente identificado"),
                Columna("primera_fecha", DATE, "día local de su primera llamada cargada; define «nuevos_clientes»"),
            ),
            ("primera_fecha", "cliente_id"),
        ),
        # --- reports -------------------------------------------------------------------------
        Tabla(
            "reportes_llamadas_dia",
            "Llamadas por día y hora local (las 24 horas, con ceros): volumen, atendidas, abandonadas, ASA, atención y "
            "nivel de servicio.",
            "reportes/llamadas_dia",
            (
                _id(),
                Columna("fecha", DATE, "día local de inicio de la llamada", "Fecha"),
                Columna("hora", INTEGER, "hora local 0-23 (las 24 presentes)", "Hora"),
                *_LLAMADAS,
                *_auditoria(),
            ),
            ("fecha", "hora"),
        ),
        Tabla(
            "reportes_menu_problemas",
            "Menús del IVR por día local: visitas, abandonos, timeouts, errores, tasa de abandono y permanencia media.",
            "reportes/menu_problemas",
            (
                _id(),
                Columna("fecha", DATE, "día local de entrada al menú", "Fecha"),
                Columna("menu_id", varchar(50), "menú", "Menú"),
                Columna("menu_nombre", varchar(200), "nombre del menú", "Nombre del menú"),
                Columna("veces_accedido", INTEGER, "visitas al menú", "Accesos"),
                Columna("abandonos", INTEGER, "visitas que terminaron en ABANDONO", "Abandonos"),
                Columna("timeout", INTEGER, "visitas que terminaron en TIMEOUT", "Timeout"),
                Columna("errores", INTEGER, "visitas que terminaron en ERROR", "Errores"),
                Columna(
                    "tasa_abandono",
                    PORCENTAJE,
                    f"100 × abandonos ÷ veces_accedido; {_P}; {_FORMULA}",
                    "Tasa abandono (%)",
                ),
                Columna(
                    "tiempo_promedio_permanencia",
                    SEGUNDOS,
                    f"media de salida - entrada de las visitas con salida; {_S}; {_FORMULA}",
                    "Permanencia prom. (s)",
                ),
                *_auditoria(),
            ),
            ("fecha", "menu_id"),
        ),
        Tabla(
            "reportes_transferencias",
            "Transferencias por día local, centro de origen y de destino: totales, tasa de éxito y duración media.",
            "reportes/transferencias",
            (
                _id(),
                Columna("fecha", DATE, "día local de inicio de la transferencia", "Fecha"),
                Columna("centro_origen", varchar(100), "centro que transfiere", "Centro origen"),
                Columna("centro_destino", varchar(100), "centro que recibe", "Centro destino"),
                Columna("total_transferencias", INTEGER, "transferencias", "Transferencias"),
                Columna("transferencias_exitosas", INTEGER, "transferencias que conectaron", "Exitosas"),
                Columna("transferencias_fallidas", INTEGER, "transferencias que no conectaron", "Fallidas"),
                Columna(
                    "tiempo_promedio_transferencia",
                    SEGUNDOS,
                    f"media de fin - inicio de las que tienen fin; {_S}; {_FORMULA}",
                    "Tiempo prom. (s)",
                ),
                Columna("tasa_exito", PORCENTAJE, f"100 × exitosas ÷ total; {_P}; {_FORMULA}", "Tasa de éxito (%)"),
                *_auditoria(),
            ),
            ("fecha", "centro_origen", "centro_destino"),
        ),
        Tabla(
            "reportes_clientes_unicos",
            "Clientes identificados por mes calendario (el mes en curso hasta la fecha): únicos, nuevos (primera "
            "llamada), recurrentes y llamadas por cliente.",
            "reportes/clientes_unicos",
            (
                _id(),
                Columna("fecha_inicio", DATE, "primer día del mes", "Desde"),
                Columna("fecha_fin", DATE, "último día del mes", "Hasta"),
                Columna("total_clientes_unicos", INTEGER, "cliente_id distintos no nulos del mes", "Clientes únicos"),
                Columna(
                    "nuevos_clientes",
                    INTEGER,
                    f"clientes cuya primera llamada en la historia cargada cae en el mes; {_FORMULA}",
                    "Nuevos",
                ),
                Columna("clientes_recurrentes", INTEGER, "clientes que ya habían llamado antes del mes", "Recurrentes"),
                Columna(
                    "promedio_llamadas_cliente",
                    DECIMAL,
                    f"llamadas identificadas ÷ clientes únicos, 2 decimales; {_FORMULA}",
                    "Llamadas por cliente",
                ),
                *_auditoria(),
            ),
            ("fecha_inicio",),
        ),
        Tabla(
            "reportes_trimestral",
            "Llamadas por trimestre calendario (el trimestre en curso hasta la fecha): volumen, atendidas, abandonadas, "
            "ASA, atención, nivel de servicio y tasa de abandono.",
            "reportes/trimestral",
            (
                _id(),
                Columna("trimestre", varchar(2), "Q1 a Q4", "Trimestre", valores=("Q1", "Q2", "Q3", "Q4")),
                Columna("anio", INTEGER, "año", "Año"),
                *_LLAMADAS,
                _TASA_ABANDONO_LLAMADAS,
                *_auditoria(),
                Columna(
                    "fecha_inicio", DATE, "primer día del trimestre (derivada de anio y trimestre)", "Desde", nula=True
                ),
            ),
            ("fecha_inicio",),
        ),
        Tabla(
            "reportes_intervalos",
            "Llamadas por día local, cuarto de hora y centro (los 96 intervalos de cada centro permitido, con ceros): "
            "volumen, contención IVR, ASA, niveles de servicio y abandonos.",
            "reportes/intervalos",
            _INTERVALOS,
            ("fecha", "intervalo", "centro_id"),
        ),
        Tabla(
            "reportes_rellamadas",
            "Rellamadas por día local y centro: clientes identificados que volvieron a llamar dentro de H horas.",
            "reportes/rellamadas",
            _RELLAMADAS,
            ("fecha", "centro_id"),
        ),
        Tabla(
            "lista_devolucion",
            "Lista de devolución por día local: clientes cuyo último abandono no fue seguido de una llamada atendida.",
            "reportes/devolucion",
            _DEVOLUCION,
            ("fecha", "cliente_id"),
        ),
        Tabla(
            "reportes_dimensionamiento",
            "Dimensionamiento Erlang C por día local, cuarto de hora y centro: carga, agentes requeridos para el "
            "objetivo de nivel de servicio, ocupación, ASA esperada y plantilla con ausentismo.",
            "reportes/dimensionamiento",
            _DIMENSIONAMIENTO,
            ("fecha", "intervalo", "centro_id"),
        ),
        Tabla(
            "reportes_cumplimiento",
            "Cumplimiento diario del objetivo de nivel de servicio por centro: veredicto, estado, intervalos bajo "
            "objetivo, peor racha, agentes pico y horas agente.",
            "reportes/cumplimiento",
            _CUMPLIMIENTO,
            ("fecha", "centro_id"),
        ),
        Tabla(
            "reportes_esperas",
            "Distribución de esperas por día local, centro y resultado (atendidas y abandonadas) en tramos de "
            "segundos, con el porcentaje acumulado: las curvas de espera y de abandono.",
            "reportes/esperas",
            _ESPERAS,
            ("fecha", "centro_id", "resultado", "tramo"),
        ),
        Tabla(
            "staging_cargas",
            "Lo que cada carga de staging hizo con cada día local: filas leídas y cargadas, "
            "veredicto del check volumen y quién aceptó un día que el check habría bloqueado.",
            "assets de staging (staging/assets.py)",
            (
                Columna("asset_key", varchar(100), "asset de staging (staging/llamadas, ...)"),
                Columna("fecha", DATE, "día local"),
                _enumerada(
                    "estado",
                    varchar(20),
                    {
                        "cargado": "pasó volumen",
                        "aceptado": "cargado por aceptación explícita",
                        "bloqueado": "no se cargó: quedan las filas anteriores y sus reportes no se reconstruyen",
                    },
                ),
                Columna("filas_leidas", INTEGER, "filas leídas de la fuente para el día"),
                Columna("filas_cargadas", INTEGER, "filas cargadas en staging (0 si se bloqueó)"),
                Columna(
                    "mediana_referencia",
                    "numeric(12,1)",
                    "mediana de filas leídas del mismo día de la semana 7, 14, 21 y 28 días antes "
                    "(solo días cargados con filas; NULL si hubo menos de dos)",
                    nula=True,
                ),
                Columna("motivo", TEXT, "por qué el check volumen falló (NULL si pasó)", nula=True),
                Columna(
                    "aceptado_por",
                    varchar(150),
                    "quién aceptó el día (iact materializar --aceptar-dias o etiqueta iact/aceptar_dias)",
                    nula=True,
                ),
                Columna("run_id", varchar(64), "run de Dagster de la carga"),
                Columna("updated_at", TIMESTAMPTZ, "cuándo se registró", tecnica=True),
                Columna(
                    "tasa_rechazo_excedida",
                    BOOLEAN,
                    "el día rechazó más filas que IACT_MAX_TASA_RECHAZO: sus reportes no se reconstruyen",
                ),
                Columna(
                    "filas_por_centro",
                    JSONB,
                    "filas leídas de cada centro permitido (el check volumen juzga también cada centro)",
                ),
            ),
            ("fecha",),
        ),
        # --- written outside the asset graph ------------------------------------------------
        Tabla(
            "usuarios",
            "Usuarios del buzón interno; los administradores activos reciben las alertas del pipeline.",
            "iact usuarios (buzon/usuarios.py)",
            (
                _id(),
                Columna(
                    "nombre",
                    varchar(150),
                    "nombre de usuario (letras, dígitos, _.@-); su rol de PostgreSQL es el nombre en minúsculas",
                ),
                Columna("nombre_completo", varchar(200), "nombre para mostrar"),
                Columna("es_admin", BOOLEAN, "administrador: recibe las alertas del pipeline"),
                Columna("activo", BOOLEAN, "puede usar el buzón y recibir mensajes"),
                *_auditoria(),
            ),
        ),
        Tabla(
            "objetivos_centro",
            "Objetivos de nivel de servicio por centro: X y T que reemplazan a la configuración para ese centro.",
            "iact objetivos (reportes/objetivos.py)",
            (
                Columna("centro_id", varchar(8), "centro (8 dígitos)", "Centro", patron=CODIGO_CENTRO),
                Columna(
                    "objetivo",
                    PORCENTAJE,
                    "X: porcentaje de llamadas a atender dentro de T; NULL: IACT_OBJETIVO_NIVEL_SERVICIO",
                    "Objetivo (%)",
                    nula=True,
                ),
                Columna(
                    "umbral_s",
                    SEGUNDOS,
                    "T: espera máxima de una atendida a tiempo, segundos; NULL: IACT_UMBRAL_NIVEL_SERVICIO",
                    "T (s)",
                    nula=True,
                ),
                Columna("actualizado_por", varchar(150), "rol que hizo el último cambio", "Por"),
                Columna("updated_at", TIMESTAMPTZ, "cuándo cambió", tecnica=True),
            ),
            ("centro_id",),
        ),
        Tabla(
            "config_reportes",
            "Parámetros que leen las vistas de los analistas, iguales a la configuración del pipeline.",
            "reportes/menu_problemas (IACT_MENU_UMBRAL_PROBLEMA); la migración crea cada parámetro",
            (
                Columna("clave", varchar(100), "parámetro (menu_umbral_problema)"),
                Columna("valor", "numeric", "valor del parámetro"),
                Columna("descripcion", TEXT, "qué significa el parámetro"),
                Columna("updated_at", TIMESTAMPTZ, "cuándo cambió", tecnica=True),
            ),
            configuracion=True,
        ),
        Tabla(
            "etl_jobs",
            "Espejo de cada run de Dagster: ciclo de vida y conteos de registros.",
            "sensor espejo_etl_jobs (monitoreo/sensors.py) y los assets de staging",
            (
                _id(),
                Columna("job_name", varchar(200), "job de Dagster del run"),
                _enumerada(
                    "status", varchar(20), dict.fromkeys(("pending", "running", "completed", "failed", "cancelled"), "")
                ),
                Columna("started_at", TIMESTAMPTZ, "inicio del run", nula=True),
                Columna("completed_at", TIMESTAMPTZ, "fin del run", nula=True),
                Columna("execution_time_seconds", "double precision", "duración del run, segundos", nula=True),
                Columna("records_extracted", INTEGER, "filas leídas de la fuente"),
                Columna("records_transformed", INTEGER, "filas validadas"),
                Columna("records_loaded", INTEGER, "filas cargadas"),
                Columna("records_failed", INTEGER, "filas rechazadas"),
                Columna("records_reported", INTEGER, "filas escritas en las tablas de reportes (aparte de staging)"),
                Columna("error_message", TEXT, "error del run fallido", nula=True),
                Columna("error_details", JSONB, "detalle del error: pasos fallidos, severidad"),
                Columna("metadata", JSONB, "etiquetas y datos del run"),
                Columna("run_id", varchar(64), "run de Dagster que refleja esta fila", nula=True),
                Columna("partition_key", varchar(100), "partición o rango del run (primero...último)", nula=True),
                *_auditoria(),
            ),
        ),
        Tabla(
            "etl_validation_errors",
            "Cada fila rechazada o advertida por la validación, con el registro de origen.",
            "assets de staging (staging/assets.py)",
            (
                _id(),
                Columna("job_id", BIGINT, "fila de etl_jobs del run", nula=True),
                Columna("run_id", varchar(64), "run de Dagster"),
                Columna("asset_key", varchar(100), "asset que validó"),
                Columna("partition_key", varchar(100), "día local"),
                Columna("record_id", varchar(64), "id del registro en la fuente", nula=True),
                Columna("error_type", varchar(100), "regla que falló (ver README, reglas de validación)"),
                Columna("error_message", TEXT, "mensaje para personas"),
                _enumerada(
                    "severity",
                    varchar(20),
                    {"warning": "se carga", "error": "no se carga", "critical": "nada se carga"},
                ),
                Columna("record_data", JSONB, "el registro de origen"),
                Columna("field_name", varchar(100), "campo que falló", nula=True),
                *_auditoria(),
            ),
        ),
        Tabla(
            "internal_messages",
            "Buzón interno: mensajes entre usuarios y alertas del sistema (sin correo).",
            "buzon/mensajes.py: alertas del sensor alertas_fallos (monitoreo/) y mensajes de iact buzon enviar",
            (
                _id(),
                Columna("recipient_id", BIGINT, "destinatario (usuarios.id)"),
                Columna("sender_id", BIGINT, "remitente (usuarios.id); NULL si lo envía el sistema", nula=True),
                Columna("subject", varchar(255), "asunto"),
                Columna("body", TEXT, "cuerpo"),
                _enumerada("message_type", varchar(20), dict.fromkeys(("info", "warning", "alert", "system"), "")),
                _enumerada("priority", varchar(20), dict.fromkeys(("low", "medium", "high", "critical"), "")),
                Columna("is_read", BOOLEAN, "leído"),
                Columna("read_at", TIMESTAMPTZ, "cuándo se leyó", nula=True),
                *_auditoria(),
                Columna("expires_at", TIMESTAMPTZ, "deja de mostrarse después de esta fecha", nula=True),
                Columna("created_by_system", BOOLEAN, "alerta o aviso del sistema"),
                Columna("metadata", JSONB, "datos del aviso: run, enlace, error"),
                Columna(
                    "dedupe_key",
                    varchar(200),
                    "identifica un aviso del sistema para no entregarlo dos veces",
                    nula=True,
                ),
            ),
        ),
    )
}


def tabla(nombre: str) -> Tabla:
    """The catalogued table `nombre` (`staging.llamadas`, `reportes_llamadas_dia`): its
    `descripcion` is the asset description, its columns the asset's column schema."""
    return TABLAS[nombre]


def tablas_de_datos() -> list[Tabla]:
    """Every table whose rows the platform produces (all but the settings ones)."""
    return [t for t in TABLAS.values() if not t.configuracion]


def vaciar() -> sql.Composed:
    """TRUNCATE of every data table, identities restarted: an empty warehouse for a test or a
    benchmark run (the settings rows stay)."""
    return sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
        sql.SQL(", ").join(t.identificador() for t in tablas_de_datos())
    )


def aplicar_comentarios(conn) -> None:
    """COMMENT ON every catalogued table and column (idempotent; run after the migrations)."""
    for t in TABLAS.values():
        conn.execute(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(
                t.identificador(), sql.Literal(f"{t.descripcion} Escrita por: {t.escrita_por}.")
            )
        )
        for c in t.columnas:
            conn.execute(
                sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                    t.identificador(), sql.Identifier(c.nombre), sql.Literal(c.descripcion)
                )
            )
