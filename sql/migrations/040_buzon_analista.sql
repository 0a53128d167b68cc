-- Read-only access for analysts: the group role `iact_analista` (NOLOGIN) may SELECT the report
-- tables (reportes_*), the report settings they read (config_reportes) and every analyst view
-- in schema public, and nothing else: no writes, no DDL, no staging, no inbox or user tables
-- (except through the views made for them). People log in with their own role that is a member
-- of it; see docs/ANALISTAS.md. Idempotent.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iact_analista') THEN
        BEGIN
            CREATE ROLE iact_analista NOLOGIN;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'cannot create role iact_analista: the migrating user lacks CREATEROLE'
                USING HINT = 'as a DBA run: CREATE ROLE iact_analista NOLOGIN; then run `iact db migrate` again';
        END;
    END IF;
END $$;

-- The seed's "unread messages" for analysts: per user, how much is waiting unread (expired
-- messages excluded, as in the inbox) and since when. Counts only: message contents stay with
-- their recipient.
CREATE OR REPLACE VIEW vista_buzon_no_leidos AS
SELECT
    u.nombre                                                        AS usuario,
    u.es_admin,
    u.activo,
    count(m.id)                                                     AS no_leidos,
    count(m.id) FILTER (WHERE m.priority = 'critical')              AS criticos,
    count(m.id) FILTER (WHERE m.priority = 'high')                  AS prioridad_alta,
    count(m.id) FILTER (WHERE m.message_type = 'alert')             AS alertas,
    count(m.id) FILTER (WHERE m.created_by_system)                  AS del_sistema,
    min(m.created_at)                                               AS mas_antiguo,
    max(m.created_at)                                               AS mas_reciente
FROM usuarios u
LEFT JOIN internal_messages m
       ON m.recipient_id = u.id AND NOT m.is_read
      AND (m.expires_at IS NULL OR m.expires_at > now())
GROUP BY u.id, u.nombre, u.es_admin, u.activo;

-- The grants, as a function so that a later migration that adds analyst views re-applies them
-- with one line at its end: SELECT conceder_lectura_analistas();
-- (Views are granted by kind, not by name: every view in public is an analyst view. Tables are
-- granted by name pattern; default privileges would also open future base tables.)
CREATE OR REPLACE FUNCTION conceder_lectura_analistas() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    objeto record;
    concedidos integer := 0;
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO iact_analista', current_database());
    GRANT USAGE ON SCHEMA public TO iact_analista;
    FOR objeto IN
        SELECT c.relname
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
          AND (c.relkind IN ('v', 'm')
               OR (c.relkind IN ('r', 'p') AND (c.relname LIKE 'reportes\_%' OR c.relname = 'config_reportes')))
        ORDER BY c.relname
    LOOP
        EXECUTE format('GRANT SELECT ON public.%I TO iact_analista', objeto.relname);
        concedidos := concedidos + 1;
    END LOOP;
    RETURN concedidos;
END $$;
REVOKE ALL ON FUNCTION conceder_lectura_analistas() FROM PUBLIC;

SELECT conceder_lectura_analistas();
