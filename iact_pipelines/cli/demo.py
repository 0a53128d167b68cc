"""`iact demo` (to be built by its issue)."""


def register(sub) -> None:
    parser = sub.add_parser("demo", help="(not built yet)")
    parser.set_defaults(func=lambda args: print("not built yet") or 1)
