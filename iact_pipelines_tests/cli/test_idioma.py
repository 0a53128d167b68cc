"""What a person reads is Spanish: the CLI's help (argparse's own lines included) and the
descriptions of checks, sensors, schedules and jobs in the Dagster UI."""

from __future__ import annotations

import re

import pytest

from iact_pipelines.cli import main

# Words that only English text has (Spanish shares "a", "no", "de"... so those are not here).
_INGLES = {"the", "of", "and", "is", "are", "every", "each", "for", "with", "when", "which", "that", "this"}
_INGLES |= {"from", "into", "its", "whose", "show", "message", "exit", "usage", "options", "required"}


def ingles(texto: str | None) -> list[str]:
    return [p for p in re.findall(r"[A-Za-z']+", texto or "") if p.lower() in _INGLES]


@pytest.mark.parametrize("argv", [["--help"], ["materializar", "--help"], ["buzon", "listar", "--help"]])
def test_help_is_spanish(argv, capsys):
    with pytest.raises(SystemExit) as salida:
        main(argv)
    assert salida.value.code == 0
    texto = capsys.readouterr().out
    assert texto.startswith("uso: iact")
    assert "muestra esta ayuda y termina" in texto and "opciones:" in texto
    # option names and metavars (--desde, AAAA-MM-DD, staging/*) are not words of either language
    assert ingles(re.sub(r"--?[\w-]+|`[^`]*`|\"[^\"]*\"", "", texto)) == []


def test_argparse_errors_are_spanish(capsys):
    with pytest.raises(SystemExit) as salida:
        main(["materializar"])
    assert salida.value.code == 2
    error = capsys.readouterr().err
    assert "iact materializar: error: faltan los argumentos obligatorios: --desde, --hasta" in error
    assert error.startswith("uso: iact materializar")


def test_no_description_in_the_definitions_is_english():
    from iact_pipelines.definitions import defs

    repositorio = defs.get_repository_def()
    descripciones = {
        **{f"sensor {s.name}": s.description for s in repositorio.sensor_defs},
        **{f"schedule {s.name}": s.description for s in repositorio.schedule_defs},
        **{f"job {j.name}": j.description for j in repositorio.get_all_jobs()},
    }
    grafo = defs.resolve_asset_graph()
    for clave in grafo.asset_check_keys:
        descripciones[f"check {clave.to_user_string()}"] = grafo.get_check_spec(clave).description
    ingleses = {donde: ingles(texto) for donde, texto in descripciones.items() if ingles(texto)}
    assert ingleses == {}
    assert any(d.startswith("check ") for d in descripciones) and "sensor alertas_fallos" in descripciones
