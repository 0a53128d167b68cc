import json

import pytest

from iact_pipelines.buzon import usuarios
from iact_pipelines.cli import main


def test_crear_y_obtener(warehouse):
    ana = usuarios.crear(warehouse, "ana", nombre_completo="Ana López", es_admin=True)
    assert (ana.nombre, ana.nombre_completo, ana.es_admin, ana.activo) == ("ana", "Ana López", True, True)
    assert usuarios.obtener(warehouse, "ana") == ana
    assert usuarios.obtener(warehouse, ana.id) == ana
    fila = warehouse.execute("SELECT nombre, nombre_completo, es_admin, activo FROM usuarios").fetchall()
    assert fila == [("ana", "Ana López", True, True)]


def test_nombre_repetido_o_malformado_es_un_error(warehouse):
    usuarios.crear(warehouse, "ana")
    with pytest.raises(usuarios.UsuarioError, match="ya existe"):
        usuarios.crear(warehouse, "ana", es_admin=True)
    for malo in ("", "ana lópez", "a" * 151, "x;DROP"):
        with pytest.raises(usuarios.UsuarioError, match="no válido"):
            usuarios.crear(warehouse, malo)
    with pytest.raises(usuarios.UsuarioError, match="desconocido"):
        usuarios.obtener(warehouse, "nadie")
    with pytest.raises(usuarios.UsuarioError, match="desconocido"):
        usuarios.obtener(warehouse, 999)
    # The first creation is untouched by the refused duplicate.
    assert warehouse.execute("SELECT count(*), bool_or(es_admin) FROM usuarios").fetchone() == (1, False)


def test_listar_desactivar_y_admins_activos(warehouse):
    usuarios.crear(warehouse, "carla", es_admin=True)
    usuarios.crear(warehouse, "ana", es_admin=True)
    usuarios.crear(warehouse, "beto")
    assert [u.nombre for u in usuarios.listar(warehouse)] == ["ana", "beto", "carla"]
    assert [u.nombre for u in usuarios.admins_activos(warehouse)] == ["ana", "carla"]

    carla = usuarios.desactivar(warehouse, "carla")
    assert carla.activo is False
    assert usuarios.desactivar(warehouse, "carla").activo is False  # idempotent
    assert [u.nombre for u in usuarios.admins_activos(warehouse)] == ["ana"]
    assert [u.nombre for u in usuarios.listar(warehouse, solo_activos=True)] == ["ana", "beto"]
    assert [u.nombre for u in usuarios.listar(warehouse, solo_admins=True)] == ["ana", "carla"]
    assert usuarios.activar(warehouse, "carla").activo is True
    with pytest.raises(usuarios.UsuarioError, match="desconocido"):
        usuarios.desactivar(warehouse, "nadie")


def test_cli_usuarios(warehouse, capsys):
    assert main(["usuarios", "crear", "ana", "--admin", "--nombre-completo", "Ana López"]) == 0
    assert "creado ana" in capsys.readouterr().out
    assert main(["usuarios", "crear", "beto", "--json"]) == 0
    beto = json.loads(capsys.readouterr().out)
    assert beto["nombre"] == "beto" and beto["es_admin"] is False

    assert main(["usuarios", "listar"]) == 0
    tabla = capsys.readouterr().out.splitlines()
    assert tabla[0].split() == ["ID", "NOMBRE", "NOMBRE", "COMPLETO", "ADMIN", "ACTIVO", "CREADO"]
    assert tabla[2].split()[:5] == ["1", "ana", "Ana", "López", "sí"]
    assert tabla[3].split()[:4] == ["2", "beto", "no", "sí"]

    assert main(["usuarios", "desactivar", "beto"]) == 0
    capsys.readouterr()
    assert main(["usuarios", "listar", "--json"]) == 0
    listado = json.loads(capsys.readouterr().out)
    assert [(u["nombre"], u["es_admin"], u["activo"]) for u in listado] == [("ana", True, True), ("beto", False, False)]

    assert main(["usuarios", "crear", "ana"]) == 2
    err = capsys.readouterr().err
    assert err == "iact: error: el usuario 'ana' ya existe\n"


@pytest.mark.parametrize("nombre", ["none", "NONE", "public", "current_user", "session_user", "current_role"])
def test_cli_nombre_reservado_por_postgresql_es_una_linea_en_espanol(nombre, warehouse, capsys):
    assert main(["usuarios", "crear", nombre]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "está reservado" in error[0] and "ReservedName" not in error[0], error
    assert warehouse.execute("SELECT count(*) FROM usuarios").fetchone() == (0,)
