import json
from datetime import UTC, datetime, timedelta

import pytest

from iact_pipelines.buzon import mensajes as buzon
from iact_pipelines.buzon import usuarios
from iact_pipelines.buzon.mensajes import BuzonError
from iact_pipelines.cli import main


@pytest.fixture
def gente(warehouse):
    """ana and beto (active), carla (inactive); returns the connection."""
    usuarios.crear(warehouse, "ana", es_admin=True)
    usuarios.crear(warehouse, "beto")
    usuarios.crear(warehouse, "carla")
    usuarios.desactivar(warehouse, "carla")
    return warehouse


def _fila(conn, mensaje_id):
    return conn.execute(
        "SELECT is_read, read_at, sender_id, created_by_system FROM internal_messages WHERE id = %s", (mensaje_id,)
    ).fetchone()


def test_enviar_entre_usuarios(gente):
    m = buzon.enviar(gente, "ana", "beto", "Turno", "Cubres el sábado?", prioridad="high", metadata={"turno": 3})
    assert (m.remitente, m.destinatario, m.subject, m.body) == ("ana", "beto", "Turno", "Cubres el sábado?")
    assert (m.message_type, m.priority, m.is_read, m.read_at, m.created_by_system) == (
        "info",
        "high",
        False,
        None,
        False,
    )
    assert m.metadata == {"turno": 3}
    assert [x.id for x in buzon.listar(gente, "beto")] == [m.id]
    assert buzon.listar(gente, "ana") == []  # the sender does not receive it
    ana_id = usuarios.obtener(gente, "ana").id
    assert _fila(gente, m.id) == (False, None, ana_id, False)


def test_mensaje_de_sistema_no_tiene_remitente(gente):
    m = buzon.mensaje_sistema(
        gente,
        "ana",
        "Run fallido",
        "staging/llamadas 2024-03-01",
        tipo="alert",
        prioridad="critical",
        metadata={"run_id": "abc"},
        dedupe_key="run-failure:abc",
    )
    assert (m.sender_id, m.remitente, m.created_by_system, m.message_type) == (None, None, True, "alert")
    assert _fila(gente, m.id) == (False, None, None, True)
    # The same notification again (a retried writer) is the same message, not a second one.
    otra = buzon.mensaje_sistema(gente, "ana", "Run fallido", "otra vez", tipo="alert", dedupe_key="run-failure:abc")
    assert otra.id == m.id and otra.body == "staging/llamadas 2024-03-01"
    assert gente.execute("SELECT count(*) FROM internal_messages").fetchone() == (1,)
    assert buzon.mensaje_sistema(gente, "ana", "Aviso", "sin clave").sender_id is None


def test_listar_con_filtros_y_mas_reciente_primero(gente):
    a = buzon.enviar(gente, "ana", "beto", "uno", "", prioridad="low")
    b = buzon.enviar(gente, "ana", "beto", "dos", "", prioridad="high", tipo="warning")
    c = buzon.mensaje_sistema(gente, "beto", "tres", "", tipo="alert", prioridad="high")
    buzon.enviar(gente, "beto", "ana", "para ana", "")
    buzon.marcar_leido(gente, "beto", b.id)

    def ids(**filtros):
        return [m.id for m in buzon.listar(gente, "beto", **filtros)]

    assert ids() == [c.id, b.id, a.id]
    assert ids(solo_no_leidos=True) == [c.id, a.id]
    assert ids(prioridad="high") == [c.id, b.id]
    assert ids(tipo="alert") == [c.id]
    assert ids(prioridad="high", solo_no_leidos=True) == [c.id]
    assert ids(tipo="info") == [a.id]
    with pytest.raises(BuzonError, match="prioridad desconocida"):
        buzon.listar(gente, "beto", prioridad="urgente")
    with pytest.raises(BuzonError, match="tipo desconocido"):
        buzon.listar(gente, "beto", tipo="spam")


def test_leer_marca_una_sola_vez(gente):
    m = buzon.enviar(gente, "ana", "beto", "hola", "cuerpo")
    assert buzon.obtener(gente, "beto", m.id).is_read is False  # looking is not reading
    primero = buzon.leer(gente, "beto", m.id)
    assert primero.is_read is True and primero.read_at is not None
    segundo = buzon.marcar_leido(gente, "beto", m.id)
    assert segundo.read_at == primero.read_at  # a second read keeps the first time
    assert _fila(gente, m.id)[:2] == (True, primero.read_at)


def test_contar_no_leidos_sigue_a_marcar_leido(gente):
    mensajes = [buzon.enviar(gente, "ana", "beto", f"m{i}", "") for i in range(3)]
    buzon.enviar(gente, "beto", "ana", "para ana", "")
    assert buzon.contar_no_leidos(gente, "beto") == 3
    buzon.marcar_leido(gente, "beto", mensajes[0].id)
    assert buzon.contar_no_leidos(gente, "beto") == 2
    buzon.marcar_leido(gente, "beto", mensajes[0].id)
    assert buzon.contar_no_leidos(gente, "beto") == 2
    buzon.eliminar(gente, "beto", mensajes[1].id)
    assert buzon.contar_no_leidos(gente, "beto") == 1
    assert buzon.contar_no_leidos(gente, "ana") == 1


def test_eliminar(gente):
    m = buzon.enviar(gente, "ana", "beto", "borrar", "")
    buzon.eliminar(gente, "beto", m.id)
    assert gente.execute("SELECT count(*) FROM internal_messages").fetchone() == (0,)
    with pytest.raises(BuzonError, match=f"el mensaje {m.id} no está en el buzón de 'beto'"):
        buzon.eliminar(gente, "beto", m.id)


def test_el_mensaje_de_otro_no_se_lee_ni_marca_ni_borra(gente):
    m = buzon.enviar(gente, "ana", "beto", "privado", "solo para beto")
    for operacion in (buzon.obtener, buzon.leer, buzon.marcar_leido, buzon.eliminar):
        # Not even its sender: a message belongs to its recipient.
        with pytest.raises(BuzonError, match=f"el mensaje {m.id} no está en el buzón de 'ana'"):
            operacion(gente, "ana", m.id)
    assert _fila(gente, m.id)[:2] == (False, None)  # untouched
    assert buzon.contar_no_leidos(gente, "beto") == 1
    with pytest.raises(BuzonError, match="no está en el buzón"):
        buzon.leer(gente, "beto", m.id + 1000)


def test_usuario_desconocido_o_desactivado(gente):
    with pytest.raises(BuzonError, match="usuario desconocido: 'nadie'"):
        buzon.listar(gente, "nadie")
    with pytest.raises(BuzonError, match="usuario desconocido"):
        buzon.enviar(gente, "ana", "nadie", "x", "")
    with pytest.raises(BuzonError, match="usuario desconocido"):
        buzon.contar_no_leidos(gente, 999)
    with pytest.raises(BuzonError, match="'carla' está desactivado y no puede enviar"):
        buzon.enviar(gente, "carla", "ana", "x", "")
    with pytest.raises(BuzonError, match="'carla' está desactivado y no recibe"):
        buzon.enviar(gente, "ana", "carla", "x", "")
    with pytest.raises(BuzonError, match="no recibe"):
        buzon.mensaje_sistema(gente, "carla", "x", "")
    assert gente.execute("SELECT count(*) FROM internal_messages").fetchone() == (0,)


def test_valores_invalidos(gente):
    with pytest.raises(BuzonError, match="asunto no puede estar vacío"):
        buzon.enviar(gente, "ana", "beto", "  ", "")
    with pytest.raises(BuzonError, match="máximo 255"):
        buzon.enviar(gente, "ana", "beto", "x" * 256, "")
    with pytest.raises(BuzonError, match="solo para mensajes del sistema"):
        buzon.enviar(gente, "ana", "beto", "x", "", tipo="system")
    with pytest.raises(BuzonError, match="prioridad desconocida"):
        buzon.enviar(gente, "ana", "beto", "x", "", prioridad="urgente")
    with pytest.raises(BuzonError, match="ya pasó"):
        buzon.enviar(gente, "ana", "beto", "x", "", expira=datetime.now(UTC) - timedelta(minutes=1))
    assert gente.execute("SELECT count(*) FROM internal_messages").fetchone() == (0,)


def test_expirados_ocultos_y_purgados(gente):
    manana = datetime.now(UTC) + timedelta(days=1)
    vigente = buzon.enviar(gente, "ana", "beto", "vigente", "", expira=manana)
    sin_fecha = buzon.enviar(gente, "ana", "beto", "sin fecha", "")
    hace_5 = buzon.enviar(gente, "ana", "beto", "hace 5 días", "", expira=manana)
    hace_40 = buzon.mensaje_sistema(gente, "beto", "hace 40 días", "", expira=manana)
    gente.execute("UPDATE internal_messages SET expires_at = now() - interval '5 days' WHERE id = %s", (hace_5.id,))
    gente.execute("UPDATE internal_messages SET expires_at = now() - interval '40 days' WHERE id = %s", (hace_40.id,))

    assert [m.id for m in buzon.listar(gente, "beto")] == [sin_fecha.id, vigente.id]
    assert buzon.contar_no_leidos(gente, "beto") == 2
    for operacion in (buzon.obtener, buzon.leer, buzon.eliminar):
        with pytest.raises(BuzonError, match="no está en el buzón"):
            operacion(gente, "beto", hace_5.id)

    assert buzon.purgar_expirados(gente, dias=30) == 1  # only the one expired 40 days ago
    assert buzon.purgar_expirados(gente, dias=30) == 0
    assert buzon.purgar_expirados(gente) == 1  # no grace: the one expired 5 days ago
    restantes = gente.execute("SELECT id FROM internal_messages ORDER BY id").fetchall()
    assert restantes == [(vigente.id,), (sin_fecha.id,)]


def test_cli_buzon(gente, capsys):
    assert (
        main(
            [
                "buzon",
                "enviar",
                "--usuario",
                "ana",
                "--para",
                "beto",
                "--asunto",
                "Reunión",
                "--cuerpo",
                "Mañana 10:00",
                "--prioridad",
                "high",
                "--expira",
                "2999-12-31",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == "enviado mensaje 1 a beto\n"
    buzon.mensaje_sistema(gente, "beto", "Run fallido", "detalle", tipo="alert", metadata={"run_id": "r1"})

    assert main(["buzon", "listar", "--usuario", "beto"]) == 0
    lineas = capsys.readouterr().out.splitlines()
    assert lineas[0].split() == ["ID", "FECHA", "DE", "PRIORIDAD", "TIPO", "LEÍDO", "ASUNTO"]
    # FECHA is local time with its zone: "2026-12-04 12:30 CST", three words
    assert lineas[2].split()[:1] + lineas[2].split()[4:] == [
        "2",
        "(sistema)",
        "medium",
        "alert",
        "no",
        "Run",
        "fallido",
    ]
    assert lineas[3].split()[:1] + lineas[3].split()[4:] == ["1", "ana", "high", "info", "no", "Reunión"]

    assert main(["buzon", "contar", "--usuario", "beto", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"usuario": "beto", "no_leidos": 2}

    assert main(["buzon", "leer", "1", "--usuario", "beto"]) == 0
    texto = capsys.readouterr().out
    # the message first: subject, sender, date, the body; its bookkeeping after it
    assert texto.startswith("Asunto:    Reunión\nDe:        ana\nFecha:     ")
    assert "\n\nMañana 10:00\n\n(mensaje 1 para beto, prioridad high, info, " in texto
    assert "expira 3000-01-01 00:00 CST" in texto  # shown through 2999-12-31, local time

    assert main(["buzon", "listar", "--usuario", "beto", "--no-leidos", "--json"]) == 0
    [solo] = json.loads(capsys.readouterr().out)
    assert (solo["id"], solo["sender_id"], solo["created_by_system"], solo["metadata"]) == (
        2,
        None,
        True,
        {"run_id": "r1"},
    )

    assert main(["buzon", "listar", "--usuario", "beto", "--tipo", "info", "--json"]) == 0
    [info] = json.loads(capsys.readouterr().out)
    assert info["is_read"] is True and info["read_at"] is not None and info["remitente"] == "ana"

    # Someone else's message: one line, exit 2, and the message is still there.
    assert main(["buzon", "eliminar", "2", "--usuario", "ana"]) == 2
    assert capsys.readouterr().err == "iact: error: el mensaje 2 no está en el buzón de 'ana'\n"
    assert main(["buzon", "leer", "2", "--usuario", "ana"]) == 2
    capsys.readouterr()
    assert main(["buzon", "eliminar", "2", "--usuario", "beto"]) == 0
    assert capsys.readouterr().out == "eliminado mensaje 2\n"
    assert main(["buzon", "contar", "--usuario", "beto"]) == 0
    assert capsys.readouterr().out == "0 mensaje(s) sin leer\n"

    assert main(["buzon", "enviar", "--usuario", "carla", "--para", "ana", "--asunto", "x", "--cuerpo", ""]) == 2
    assert "desactivado" in capsys.readouterr().err
    assert (
        main(
            [
                "buzon",
                "enviar",
                "--usuario",
                "ana",
                "--para",
                "beto",
                "--asunto",
                "x",
                "--cuerpo",
                "",
                "--expira",
                "31/12/2999",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err == "iact: error: --expira: '31/12/2999' no es una fecha (AAAA-MM-DD)\n"
    assert main(["buzon", "listar", "--usuario", "nadie"]) == 2
    assert capsys.readouterr().err == "iact: error: usuario desconocido: 'nadie'\n"
    assert main(["buzon", "listar", "--usuario", "ana"]) == 0
    assert capsys.readouterr().out == "no hay mensajes para ana\n"


def test_cli_muestra_los_caracteres_de_control_escapados(gente, capsys):
    asunto = "Hola\x1b[2J\nDe:        jefe\rfin\u202e"
    cuerpo = "línea 1\n\tlínea 2\x1b]0;titulo\x07\x9b31m"
    m = buzon.enviar(gente, "ana", "beto", asunto, cuerpo, metadata={"nota\x1b": "x\ny"})

    assert main(["buzon", "listar", "--usuario", "beto"]) == 0
    salida = capsys.readouterr().out
    assert "\x1b" not in salida and "\r" not in salida and "\u202e" not in salida
    assert len(salida.splitlines()) == 3  # header, rule, one row: the subject's newline prints no fake line
    assert salida.splitlines()[2].endswith("Hola\\e[2J\\nDe: jefe\\rfin\\u202e")

    assert main(["buzon", "leer", str(m.id), "--usuario", "beto"]) == 0
    salida = capsys.readouterr().out
    assert "Asunto:    Hola\\e[2J\\nDe:        jefe\\rfin\\u202e\n" in salida
    assert "  nota\\e: x\\ny\n" in salida
    # The body keeps its line breaks and tabs; escape sequences and C1 controls show escaped.
    assert "\n\nlínea 1\n\tlínea 2\\e]0;titulo\\x07\\x9b31m\n\n(mensaje " in salida
    assert not any(c in salida for c in "\x1b\x07\x9b\r")

    # --json stays exact: decoding gives back the very same text, yet nothing raw reaches the terminal.
    assert main(["buzon", "leer", str(m.id), "--usuario", "beto", "--json"]) == 0
    salida = capsys.readouterr().out
    assert not any(c in salida for c in "\x1b\x07\x9b\r\u202e")
    datos = json.loads(salida)
    assert (datos["subject"], datos["body"], datos["metadata"]) == (asunto, cuerpo, {"nota\x1b": "x\ny"})
