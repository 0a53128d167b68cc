-- Identity and access for the inbox: a person is a `usuarios` row AND a PostgreSQL login role
-- named lower(nombre), member of the group role `iact_buzon` (NOLOGIN). Who may read or change
-- a message is enforced here by row-level security, not by the CLI:
--   connected as a person's role, SELECT returns only the messages they received (expired ones
--   hidden), UPDATE may only mark their own messages read, DELETE only removes their own, and
--   INSERT only sends as themselves (never as the system, never to an inactive user).
-- The pipeline's own role (the one that runs the migrations and owns the tables) is not a
-- member of iact_buzon and is exempt from RLS as the table owner (no FORCE): it writes the
-- system alerts and purges expired messages. Idempotent.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iact_buzon') THEN
        BEGIN
            CREATE ROLE iact_buzon NOLOGIN;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'cannot create role iact_buzon: the migrating user lacks CREATEROLE'
                USING HINT = 'as a DBA run: CREATE ROLE iact_buzon NOLOGIN; then run `iact db migrate` again';
        END;
    END IF;
END $$;

-- Names are case-insensitive: `ana` and `Ana` are the same person (and the same role).
DO $$
DECLARE
    repetido text;
BEGIN
    SELECT string_agg(nombre, ', ' ORDER BY nombre) INTO repetido
    FROM usuarios
    WHERE lower(nombre) IN (SELECT lower(nombre) FROM usuarios GROUP BY 1 HAVING count(*) > 1);
    IF repetido IS NOT NULL THEN
        RAISE EXCEPTION 'usuarios differing only in case: %', repetido
            USING HINT = 'rename or delete all but one of each, then run `iact db migrate` again';
    END IF;
END $$;
CREATE UNIQUE INDEX IF NOT EXISTS usuarios_nombre_lower_uniq ON usuarios (lower(nombre));

-- The usuarios row of the connected person (active only), or NULL for any other role.
CREATE OR REPLACE FUNCTION buzon_usuario_actual() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT id FROM public.usuarios WHERE lower(nombre) = current_user::text AND activo
$$;

ALTER TABLE internal_messages ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS buzon_leer ON internal_messages;
CREATE POLICY buzon_leer ON internal_messages FOR SELECT TO iact_buzon
    USING (recipient_id = buzon_usuario_actual() AND (expires_at IS NULL OR expires_at > now()));

DROP POLICY IF EXISTS buzon_marcar_leido ON internal_messages;
CREATE POLICY buzon_marcar_leido ON internal_messages FOR UPDATE TO iact_buzon
    USING (recipient_id = buzon_usuario_actual() AND (expires_at IS NULL OR expires_at > now()))
    WITH CHECK (recipient_id = buzon_usuario_actual());

DROP POLICY IF EXISTS buzon_eliminar ON internal_messages;
CREATE POLICY buzon_eliminar ON internal_messages FOR DELETE TO iact_buzon
    USING (recipient_id = buzon_usuario_actual() AND (expires_at IS NULL OR expires_at > now()));

DROP POLICY IF EXISTS buzon_enviar ON internal_messages;
CREATE POLICY buzon_enviar ON internal_messages FOR INSERT TO iact_buzon
    WITH CHECK (
        sender_id = buzon_usuario_actual()
        AND NOT created_by_system
        AND message_type <> 'system'
        AND dedupe_key IS NULL
        AND NOT is_read
        AND EXISTS (SELECT FROM public.usuarios d WHERE d.id = recipient_id AND d.activo)
    );

-- Table privileges (RLS only narrows what these allow). Column lists: a person marks read but
-- cannot rewrite a message; sees the directory columns of usuarios but not who is admin.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO iact_buzon', current_database());
END $$;
GRANT USAGE ON SCHEMA public TO iact_buzon;
REVOKE ALL ON internal_messages, usuarios FROM iact_buzon;
GRANT SELECT, DELETE ON internal_messages TO iact_buzon;
GRANT INSERT (recipient_id, sender_id, subject, body, message_type, priority, expires_at, metadata)
    ON internal_messages TO iact_buzon;
GRANT UPDATE (is_read, read_at) ON internal_messages TO iact_buzon;
GRANT SELECT (id, nombre, nombre_completo, activo) ON usuarios TO iact_buzon;
-- A sent message cannot be RETURNed (the sender may not SELECT it): currval gives its id.
GRANT USAGE ON SEQUENCE internal_messages_id_seq TO iact_buzon;
REVOKE ALL ON FUNCTION buzon_usuario_actual() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buzon_usuario_actual() TO iact_buzon;
