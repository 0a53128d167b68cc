"""`iact db migrate`: create the databases if missing and apply the warehouse migrations."""

from __future__ import annotations


def register(sub) -> None:
    parser = sub.add_parser("db", help="database set-up")
    dbsub = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    migrate = dbsub.add_parser("migrate", help="create missing databases and apply pending migrations")
    migrate.set_defaults(func=_migrate)
    stop = dbsub.add_parser("stop", help="stop the embedded PostgreSQL server")
    stop.set_defaults(func=_stop)


def _migrate(args) -> int:
    from iact_pipelines.plataforma import db, migrations

    urls = db.resolve_urls()
    applied = migrations.setup(urls, crear=True)
    where = "embedded PostgreSQL" if urls.embedded else db.redact(urls.warehouse)
    if applied:
        print(f"applied {len(applied)} migration(s) on {where}: {', '.join(applied)}")
    else:
        print(f"warehouse on {where} is up to date")
    return 0


def _stop(args) -> int:
    from iact_pipelines.plataforma import embedded
    from iact_pipelines.plataforma.config import load_settings

    home = load_settings().home
    print("stopped embedded PostgreSQL" if embedded.stop(home) else "embedded PostgreSQL was not running")
    return 0
