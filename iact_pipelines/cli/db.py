"""`iact db migrate`: create the databases if missing and apply the warehouse migrations."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("db", help="preparación de las bases de datos")
    dbsub = parser.add_subparsers(dest="db_command", required=True, metavar="ACCION", title="acciones")
    migrate = dbsub.add_parser("migrate", help="crea las bases que falten y aplica las migraciones pendientes")
    migrate.set_defaults(func=_migrate)
    stop = dbsub.add_parser("stop", help="detiene el PostgreSQL embebido")
    stop.set_defaults(func=_stop)


def _migrate(args) -> int:
    from iact_pipelines.plataforma import db, migrations

    urls = db.resolve_urls()
    applied = migrations.setup(urls, crear=True)
    where = "embedded PostgreSQL" if urls.embedded else db.redact(urls.warehouse)
    if applied:
        print(f"aplicadas {len(applied)} migración(es) en {where}: {', '.join(applied)}")
    else:
        print(f"el almacén en {where} está al día")
    return 0


def _stop(args) -> int:
    from iact_pipelines.plataforma import embedded
    from iact_pipelines.plataforma.config import load_settings

    home = load_settings().home
    print("PostgreSQL embebido detenido" if embedded.stop(home) else "el PostgreSQL embebido no estaba corriendo")
    return 0
